import type { ApiTokenStore } from '../store/token-store';
import type { ControllerService } from '../controller-service';

/** What the /api/v1 route plugins share. */
export interface ApiContext {
  service: ControllerService;
  tokens: ApiTokenStore;
}

/**
 * @syncguard/testkit: real servers for tests, started as processes on free loopback
 * ports (no Docker): OpenLDAP's slapd, redis-server and an SMTP server.
 */
export { freePort, waitForPort, waitFor, sleep } from './ports';
export { ManagedProcess } from './process';
export { SlapdServer, startSlapd, type SlapdOptions } from './slapd';
export { RedisServer, startRedis, type RedisOptions } from './redis';
export { SmtpSink, startSmtp, type ReceivedMail } from './smtp';
export { duplicateTopLevelKeys } from './log-lines';
export { makeTestCertificates, type TestCertificates } from './certificates';
export { usersLdif, userLdif, groupLdif, userDns, type SampleUser } from './ldif';

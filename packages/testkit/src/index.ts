/**
 * @syncguard/testkit: real servers for tests, started as processes on free loopback
 * ports (no Docker): OpenLDAP's slapd, a Samba AD DC, redis-server, an SMTP server and an in-process SCIM 2.0 peer.
 */
export { freePort, waitForPort, waitFor, sleep } from './ports';
export { ManagedProcess } from './process';
export { SlapdServer, startSlapd, type SlapdOptions } from './slapd';
export { seedCacheDir, usersSeed, type SlapdCachedSeed } from './slapd-seed-cache';
export { SambaDc, startSambaDc, adUsersLdif, adUserDns, adGroupLdif, adOusLdif, type SambaDcOptions } from './samba';
export { LdapTools, type LdapToolsTarget } from './ldap-tools';
export { RedisServer, startRedis, redisCli, type RedisOptions } from './redis';
export { RedisCluster, startRedisCluster, type RedisClusterOptions, type ClusterNodeView } from './redis-cluster';
export { RedisSentinelSet, startRedisSentinels, type RedisSentinelOptions, type SentinelProcess } from './redis-sentinel';
export { SmtpSink, startSmtp, type ReceivedMail } from './smtp';
export { duplicateTopLevelKeys } from './log-lines';
export { makeTestCertificates, type TestCertificates } from './certificates';
export { usersLdif, userLdif, groupLdif, userDns, type SampleUser } from './ldif';
export { ScimPeer, ENTERPRISE_USER_SCHEMA, type ScimPeerOptions, type ScimRequest, type ScimResource } from './scim-peer';
export { WebhookReceiver, startWebhookReceiver, type ReceivedRequest } from './webhook-receiver';

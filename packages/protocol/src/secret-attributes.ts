/**
 * Directory attributes that hold passwords, password hashes or history, keys or other
 * password-equivalent secrets. They never leave the agent (whatever its allow list says)
 * and the controller drops them should an agent send them anyway. Names are matched
 * case-insensitively and without attribute options (`userPassword;binary`,
 * `unicodePwd;range=0-*`).
 */
export const SECRET_ATTRIBUTES: readonly string[] = Object.freeze([
  // RFC 2256 / 3112 / POSIX
  'userPassword',
  'authPassword',
  'unixUserPassword',
  'userPKCS12',
  // OpenLDAP ppolicy and 389-ds password history (old hashes), 389-ds replication secrets
  'pwdHistory',
  'passwordHistory',
  'nsds5ReplicaCredentials',
  'nsSymmetricKey',
  'olcRootPW',
  // Samba
  'sambaNTPassword',
  'sambaLMPassword',
  'sambaPasswordHistory',
  'sambaClearTextPassword',
  // Kerberos (MIT KDC LDAP back end, FreeIPA) and FreeIPA
  'krbPrincipalKey',
  'krbExtraData',
  'krbPwdHistory',
  'krbMKey',
  'ipaNTHash',
  'ipatokenOTPkey',
  // Active Directory: passwords, hashes and supplemental credentials
  'unicodePwd',
  'dBCSPwd',
  'ntPwdHistory',
  'lmPwdHistory',
  'supplementalCredentials',
  'msSFU30Password',
  'msDS-ExecuteScriptPassword',
  // AD trust and LSA secrets
  'currentValue',
  'priorValue',
  'trustAuthIncoming',
  'trustAuthOutgoing',
  'initialAuthIncoming',
  'initialAuthOutgoing',
  // LAPS (legacy and Windows LAPS), gMSA, BitLocker, TPM
  'ms-Mcs-AdmPwd',
  'msLAPS-Password',
  'msLAPS-EncryptedPassword',
  'msLAPS-EncryptedPasswordHistory',
  'msLAPS-EncryptedDSRMPassword',
  'msLAPS-EncryptedDSRMPasswordHistory',
  'msDS-ManagedPassword',
  'msFVE-RecoveryPassword',
  'msFVE-KeyPackage',
  'msTPM-OwnerInformation',
  'msTPM-OwnerInformationTemp',
  // Key credentials (Windows Hello for Business, "shadow credentials") and credential roaming
  'msDS-KeyCredentialLink',
  'msPKIAccountCredentials',
  'msPKIDPAPIMasterKeys',
  // RADIUS
  'radiusTunnelPassword',
]);

const SECRET = new Set(SECRET_ATTRIBUTES.map((name) => name.toLowerCase()));

/** An attribute name without its options (`;binary`, `;range=...`, `;lang-...`), lower-cased. */
export function attributeBaseName(name: string): string {
  const semicolon = name.indexOf(';');
  return (semicolon === -1 ? name : name.slice(0, semicolon)).toLowerCase();
}

/** True when `name` (any case, with or without options) is one of {@link SECRET_ATTRIBUTES}. */
export function isSecretAttribute(name: string): boolean {
  return SECRET.has(attributeBaseName(name));
}

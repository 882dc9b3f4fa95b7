/** The version `onedump --version` prints: package.json's in a checkout; scripts/release.sh stamps the git tag's into a staged copy. */
export const VERSION = '0.1.0';

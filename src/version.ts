/** Kept in step with package.json by scripts/build-binary.sh and the release process. */
export const VERSION = '0.1.0';

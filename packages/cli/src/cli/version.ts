// The CLI's version: the package's, inlined by the build; 0.0.0-dev when run from source.
export const VERSION = typeof __SEKUIRE_VERSION__ === 'string' ? __SEKUIRE_VERSION__ : '0.0.0-dev';

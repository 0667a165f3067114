declare const LSM_VERSION: string;
export const VERSION = typeof LSM_VERSION === 'string' ? LSM_VERSION : '0.0.0-dev';

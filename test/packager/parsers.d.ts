declare module 'm3u8-parser';
declare module 'mpd-parser';
declare module 's3rver';

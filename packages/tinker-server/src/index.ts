export { createTinkerServer, type TinkerServer, type TinkerServerOptions } from './server.js';

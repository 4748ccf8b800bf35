export { nginxConfig, type NginxOptions } from './nginx.js';

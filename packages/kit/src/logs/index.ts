export { parseSize, rotateLogs, type RotateOptions, type RotateResult } from './rotate.js';

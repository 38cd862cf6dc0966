export { Metrics, statusClass, type StatusClass } from './metrics.js';

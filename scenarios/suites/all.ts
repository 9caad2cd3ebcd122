// Imports every scenario module so that each registers itself.
export {};
import './port80.js';
import './cpushare.js';
import './userns.js';
import './forkbomb.js';
import './stats.js';
import './exec.js';
import './dentry.js';
import './paging.js';
import './devices.js';

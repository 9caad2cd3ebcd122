// Imports every scenario module so that each registers itself.
export {};

export * from "./queues";
export * from "./registry";
export * from "./queue-control";
export * from "./queue-counts";

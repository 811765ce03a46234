/** Every shape that crosses a boundary between the SDK, the edge Worker and the backend. */
export * from "./event.ts";
export * from "./queue-message.ts";
export * from "./site-config.ts";
export * from "./storable.ts";
export * from "./activity.ts";
export * from "./activity-path.ts";

// The dashboard's building blocks, one file per concern; pages import them from here.
export * from "./route";
export * from "./hooks";
export * from "./format";
export * from "./feedback";
export * from "./controls";
export * from "./forms";
export * from "./sortable";
export * from "./lists";
export * from "./filters";

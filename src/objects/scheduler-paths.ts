/** The routes of a SchedulerObject's fetch protocol (both sides of it import them from here). */
export const SCHEDULER_PATHS = {
  schedule: "/schedule",
  list: "/list",
  cancel: "/cancel",
} as const;

/** The origin of requests to a SchedulerObject; only its path matters. */
export const SCHEDULER_ORIGIN = "https://scheduler.x3m";

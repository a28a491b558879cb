import { keepLibraryLog } from "./library-log.js";

// Every workerd test file: the library's log lines are kept for the test (test/support/library-log.ts).
keepLibraryLog();

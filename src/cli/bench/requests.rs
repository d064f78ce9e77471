//! The fixed requests every latency figure is measured on.

/// Everyday requests, in the words users type them.
pub const EVERYDAY_REQUESTS: [&str; 10] = [
    "list all files including hidden ones",
    "find files larger than 100MB in this directory",
    "show disk usage of this folder in human readable units",
    "count lines in main.rs",
    "show the 5 most recently modified files",
    "search for TODO in all rust files",
    "show which process listens on port 8080",
    "compress the logs directory into logs.tar.gz",
    "show free memory",
    "replace foo with bar in config.txt",
];

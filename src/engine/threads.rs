//! CPU thread settings. Candle reads them from the environment once, on first use, so
//! they must be set before any tensor work and before other threads exist.

/// Candle's worker pool spins this many times before sleeping. The stock 25 000 makes
/// workers burn the core that the OS needs for the other half of the job when the machine
/// is busy, and two threads become slower than one; a short spin keeps the pool
/// responsive without that collapse.
const SPIN_LIMIT: &str = "2000";

/// Applies `threads` to candle (and rayon). Call at start-up, before spawning threads.
pub fn configure(threads: usize) {
    let n = threads.max(1).to_string();
    // SAFETY: called from `main` before any other thread is started.
    unsafe {
        std::env::set_var("CANDLE_NUM_THREADS", &n);
        std::env::set_var("RAYON_NUM_THREADS", &n);
        if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
            std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", SPIN_LIMIT);
        }
    }
}

/// The thread count candle will use.
pub fn current() -> usize {
    candle_core::utils::get_num_threads()
}

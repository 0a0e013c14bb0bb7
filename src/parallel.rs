//! Ordered parallel work on scoped threads: the policy evaluation's cfn-guard calls and cache reads,
//! and the rendering of many environments. Results come back in job order whatever the scheduling,
//! so output stays deterministic.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// As many threads as the machine has cores, but no more than there are jobs, and at least one.
pub fn worker_count(jobs: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs)
        .max(1)
}

/// Runs `work` over `jobs` on `threads` scoped threads; results come back in job order whatever
/// the scheduling.
pub fn run_jobs<J: Sync, R: Send>(
    jobs: &[J],
    threads: usize,
    work: impl Fn(&J) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(index) else { break };
                    let result = work(job);
                    if let Ok(mut slot) = slots[index].lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .filter_map(|slot| slot.into_inner().ok().flatten())
        .collect()
}

/// `work` over every item, on all cores, in order.
pub fn map<J: Sync, R: Send>(items: &[J], work: impl Fn(&J) -> R + Sync) -> Vec<R> {
    run_jobs(items, worker_count(items.len()), work)
}

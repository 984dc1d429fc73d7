//! argon2id hashing on a fixed pool of worker threads sized to the cores: a
//! flood of logins queues here instead of starving the async runtime.
//!
//! Dedicated threads (not tokio's blocking pool) also bound memory: each
//! hash needs 19 MiB, and each worker keeps one such block from job to job
//! (`MEMORY`), so N workers hold at most N blocks and steady traffic
//! allocates nothing; a churning pool of threads, each allocating per
//! hash, grew to hundreds of MiB under load. A worker left without a job
//! for [`IDLE_RELEASE`] gives its block back to the system, so an idle
//! server does not hold 19 MiB per core.
//!
//! That block is a mapping of its own, asked to be backed by 2 MiB pages
//! ([`Memory`]): argon2id reads its blocks in a data-dependent order all
//! over the 19 MiB, so with 4 KiB pages nearly every read misses the TLB.
//! Hashing ran about 8 % faster with huge pages here (136–140 against
//! 147–152 hashes/s, `server hash-rate`, alternating).

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::Error;

type Job = Box<dyn FnOnce() + Send>;

/// argon2id's cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub m_cost: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Default for HashParams {
    /// OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        Self {
            m_cost: 19 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// About two seconds of queued work per worker at OWASP's parameters
/// (≈ 17 ms a hash here).
pub const DEFAULT_JOBS_PER_WORKER: usize = 128;

/// How long a worker without a job keeps its memory: long enough that
/// traffic with gaps (or an attacker pacing log-ins) does not map a fresh
/// block per hash, short enough that a quiet server holds none.
pub const IDLE_RELEASE: Duration = Duration::from_secs(1);

pub struct Hasher {
    params: Params,
    jobs: Sender<Job>,
    /// Jobs submitted and not yet finished.
    in_flight: Arc<AtomicUsize>,
    /// Past this many jobs in flight, new ones are refused (503) at once:
    /// a flood waits seconds, never minutes, and cannot grow memory.
    queue_limit: usize,
    /// A real hash of a random password: unknown accounts are verified
    /// against it so they take as long as a wrong password.
    dummy: String,
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    Match {
        /// The stored hash used weaker or different parameters: store a new one.
        rehash: Option<String>,
    },
    Mismatch,
}

impl Hasher {
    pub fn new(params: HashParams, workers: usize) -> Self {
        let params = Params::new(params.m_cost, params.t_cost, params.p_cost, None)
            .expect("argon2 parameters are validated by the config");
        // Made on the caller's thread: its memory is not kept.
        let mut memory = vec![Block::default(); params.block_count()];
        let dummy = hash_into(&params, &uuid::Uuid::new_v4().to_string(), &mut memory);
        // Every worker waits on the one queue (a multi-consumer channel, so
        // an idle worker waits with its memory already given back).
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for n in 0..workers.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    // None: the Hasher is gone.
                    while let Some(job) = next_job(&queue, IDLE_RELEASE) {
                        job();
                    }
                })
                .expect("spawn a hashing thread");
        }
        Self {
            params,
            jobs,
            in_flight: Arc::new(AtomicUsize::new(0)),
            queue_limit: workers.max(1) * DEFAULT_JOBS_PER_WORKER,
            dummy,
        }
    }

    /// Refuses new jobs past `limit` in flight (running or queued).
    pub fn with_queue_limit(self, limit: usize) -> Self {
        Self {
            queue_limit: limit.max(1),
            ..self
        }
    }

    pub async fn hash(&self, password: String) -> Result<String, Error> {
        let params = self.params.clone();
        self.run(move || hash_with(&params, &nfkc(&password))).await
    }

    /// Verifies `password` against `stored`, or against the dummy hash when
    /// there is no account, so both paths cost the same.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verified, Error> {
        let params = self.params.clone();
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy.clone());
        self.run(move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return Verified::Mismatch;
            };
            let normalised = nfkc(&password);
            let matches = |candidate: &str| matches(&parsed, candidate, &params);
            // Hashes made before passwords were normalised hold the raw
            // text: one more try for a password that normalising changes
            // (the same for the dummy hash, so unknown accounts cost alike).
            let by_normalised = matches(&normalised);
            let by_raw = !by_normalised && normalised != password && matches(&password);
            if !((by_normalised || by_raw) && known) {
                return Verified::Mismatch;
            }
            let current = Params::try_from(&parsed).ok();
            let outdated = parsed.algorithm != Algorithm::Argon2id.ident()
                || current
                    .as_ref()
                    .map(|p| (p.m_cost(), p.t_cost(), p.p_cost()))
                    != Some((params.m_cost(), params.t_cost(), params.p_cost()));
            Verified::Match {
                rehash: (outdated || by_raw).then(|| hash_with(&params, &normalised)),
            }
        })
        .await
    }

    /// Hash jobs running or waiting for a worker.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let (done, result) = tokio::sync::oneshot::channel::<T>();
        let in_flight = self.in_flight.clone();
        // Reserve a place, or refuse before any work: the queue is full.
        if in_flight.fetch_add(1, Ordering::AcqRel) >= self.queue_limit {
            in_flight.fetch_sub(1, Ordering::AcqRel);
            metrics::counter!("latchkey_hash_jobs_refused_total").increment(1);
            return Err(Error {
                retry_after: Some(2),
                ..Error::unavailable()
            });
        }
        let job: Job = Box::new(move || {
            // The request that wanted it has gone (the client hung up):
            // skip the work rather than hash for nobody.
            if !done.is_closed() {
                let _ = done.send(job());
            }
            in_flight.fetch_sub(1, Ordering::AcqRel);
        });
        if self.jobs.send(job).is_err() {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::unavailable());
        }
        // A panicking job drops `done`: report it, never hang.
        result.await.map_err(|_| Error::internal())
    }
}

/// Passwords are hashed in Unicode NFKC (NIST SP 800-63B §5.1.1.2), so
/// the same passphrase typed on another keyboard or system (composed or
/// decomposed Hangul, full-width digits) still matches.
fn nfkc(password: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    password.nfkc().collect()
}

/// The next job for a hashing thread; with none for `idle`, the thread's
/// memory goes back to the system before it waits on. `None`: the Hasher
/// is gone.
fn next_job(queue: &Receiver<Job>, idle: Duration) -> Option<Job> {
    match queue.recv_timeout(idle) {
        Ok(job) => return Some(job),
        Err(RecvTimeoutError::Disconnected) => return None,
        Err(RecvTimeoutError::Timeout) => {}
    }
    MEMORY.with(|memory| drop(memory.take()));
    queue.recv().ok()
}

thread_local! {
    /// A hashing thread's argon2 memory, kept from one job to the next
    /// while jobs are waiting.
    static MEMORY: RefCell<Option<Memory>> = const { RefCell::new(None) };
}

/// Where huge pages start and how large they are (x86-64, and arm64 with
/// 4 KiB pages; elsewhere the advice just goes unused).
const HUGE_PAGE: usize = 2 << 20;

/// argon2 memory: an anonymous mapping the kernel may back with huge pages
/// (`MADV_HUGEPAGE`, honoured when transparent huge pages are `always` or
/// `madvise`, the usual defaults). The kernel hands it out zeroed, and its
/// pages are only made when first touched; unmapped when dropped.
struct Memory {
    map: memmap2::MmapMut,
    /// From the mapping's start to the first huge-page boundary in it.
    offset: usize,
    blocks: usize,
}

impl Memory {
    fn new(blocks: usize) -> Self {
        // One huge page more, so the blocks can start on a boundary. (Out
        // of reach on 64 bits, where argon2 caps the memory; not on 32.)
        let (len, mapped) = blocks
            .checked_mul(std::mem::size_of::<Block>())
            .and_then(|len| Some((len, len.checked_add(HUGE_PAGE)?)))
            .expect("argon2 memory fits the address space");
        let map = memmap2::MmapMut::map_anon(mapped).unwrap_or_else(|e| {
            tracing::error!(error = %e, bytes = mapped, "cannot map memory for a hash");
            // As a Vec that cannot grow would: out of memory ends the process.
            std::alloc::handle_alloc_error(
                std::alloc::Layout::from_size_align(mapped, HUGE_PAGE).expect("a valid layout"),
            )
        });
        let offset = map.as_ptr().align_offset(HUGE_PAGE);
        // What `blocks()` relies on, checked rather than assumed.
        assert!(offset < HUGE_PAGE && offset + len <= map.len());
        // Advice only: without huge pages, hashing is slower, not wrong.
        #[cfg(target_os = "linux")]
        let _ = map.advise_range(memmap2::Advice::HugePage, offset, len);
        #[cfg(test)]
        tests::MAPPED.with(|n| n.set(n.get() + 1));
        Self {
            map,
            offset,
            blocks,
        }
    }

    fn blocks(&mut self) -> &mut [Block] {
        let start = self.map[self.offset..].as_mut_ptr();
        // SAFETY: `start` is 2 MiB-aligned (more than a Block's 64) inside a
        // mapping that holds `blocks` whole Blocks after it (checked in
        // `new`); the mapping starts zeroed, and all
        // zeroes are a valid Block (plain u64s); the slice borrows `self`,
        // which owns the mapping, mutably.
        unsafe { std::slice::from_raw_parts_mut(start.cast::<Block>(), self.blocks) }
    }
}

/// Runs `f` on `blocks` of this thread's kept memory, which holds up to
/// `keep` blocks (the configured cost); a stored hash that needs more
/// gets memory of its own, freed after, so one such hash cannot pin it.
fn with_memory<T>(blocks: usize, keep: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    if blocks > keep {
        return f(Memory::new(blocks).blocks());
    }
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        let memory = match &mut *memory {
            Some(kept) if kept.blocks == keep => kept,
            other => other.insert(Memory::new(keep)),
        };
        f(&mut memory.blocks()[..blocks])
    })
}

fn hash_with(params: &Params, password: &str) -> String {
    let blocks = params.block_count();
    with_memory(blocks, blocks, |memory| hash_into(params, password, memory))
}

/// An argon2id PHC string of `password` with a fresh salt.
fn hash_into(params: &Params, password: &str, memory: &mut [Block]) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let hash = (|| {
        let raw_salt = salt.decode_b64(&mut salt_bytes)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
            Ok(argon2.hash_password_into_with_memory(
                password.as_bytes(),
                raw_salt,
                out,
                &mut *memory,
            )?)
        })?;
        Ok::<_, argon2::password_hash::Error>(
            PasswordHash {
                algorithm: Algorithm::Argon2id.ident(),
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(params)?,
                salt: Some(salt.as_salt()),
                hash: Some(output),
            }
            .to_string(),
        )
    })();
    hash.expect("argon2id hashing with valid params cannot fail")
}

/// Whether `password` hashes to `stored` under the stored hash's own
/// algorithm, version, parameters and salt (compared in constant time);
/// `current` is the configured cost, whose memory each thread keeps.
fn matches(stored: &PasswordHash<'_>, password: &str, current: &Params) -> bool {
    let check = || {
        let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
            return Ok(false);
        };
        let params = Params::try_from(stored)?;
        let version = stored.version.map(Version::try_from).transpose()?;
        let argon2 = Argon2::new(
            Algorithm::try_from(stored.algorithm)?,
            version.unwrap_or_default(),
            params.clone(),
        );
        let mut salt_bytes = [0u8; 64];
        let raw_salt = salt.decode_b64(&mut salt_bytes)?;
        let computed = with_memory(params.block_count(), current.block_count(), |memory| {
            Output::init_with(expected.len(), |out| {
                Ok(argon2.hash_password_into_with_memory(
                    password.as_bytes(),
                    raw_salt,
                    out,
                    memory,
                )?)
            })
        })?;
        Ok::<_, argon2::password_hash::Error>(computed == expected)
    };
    check().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Hasher {
        Hasher::new(
            HashParams {
                m_cost: 1024,
                t_cost: 1,
                p_cost: 1,
            },
            2,
        )
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = small();
        let hash = h.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            h.verify("correct horse".into(), Some(hash.clone()))
                .await
                .unwrap(),
            Verified::Match { rehash: None }
        );
        assert_eq!(
            h.verify("wrong".into(), Some(hash)).await.unwrap(),
            Verified::Mismatch
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_abandoned_jobs_are_skipped() {
        let h = Arc::new(
            Hasher::new(
                // Slow enough (≈ 0.1 s a hash) that the queue is still
                // full when the fifth job comes, on a busy machine too.
                HashParams {
                    m_cost: 8 * 1024,
                    t_cost: 40,
                    p_cost: 1,
                },
                1,
            )
            .with_queue_limit(4),
        );
        let mut waiting = Vec::new();
        for _ in 0..4 {
            let h = h.clone();
            waiting.push(tokio::spawn(async move { h.hash("pw".into()).await }));
        }
        while h.in_flight() < 4 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let err = h.hash("one too many".into()).await.unwrap_err();
        assert_eq!(err.code, crate::error::ErrorCode::Unavailable);
        assert_eq!(err.retry_after, Some(2));
        // The clients give up: their queued jobs are dropped unhashed, and
        // the queue empties fast.
        for job in &waiting {
            job.abort();
        }
        let started = std::time::Instant::now();
        while h.in_flight() > 0 {
            assert!(started.elapsed().as_secs() < 5, "the queue drains");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        h.hash("room again".into()).await.unwrap();
    }

    #[tokio::test]
    async fn passwords_are_compared_in_nfkc_and_raw_hashes_still_verify() {
        let h = small();
        // "한글" typed composed and decomposed; "１２３" full-width.
        let composed = "비밀 한글 passphrase １２３";
        let decomposed: String = {
            use unicode_normalization::UnicodeNormalization;
            composed.nfd().collect()
        };
        assert_ne!(composed, decomposed);
        let hash = h.hash(composed.into()).await.unwrap();
        assert!(matches!(
            h.verify(decomposed.clone(), Some(hash)).await.unwrap(),
            Verified::Match { rehash: None }
        ));
        // A hash made before normalisation, of the raw text: it verifies,
        // and is replaced by the normalised one.
        let raw = hash_with(&h.params, &decomposed);
        match h.verify(decomposed.clone(), Some(raw)).await.unwrap() {
            Verified::Match { rehash: Some(new) } => assert!(matches!(
                h.verify(composed.into(), Some(new)).await.unwrap(),
                Verified::Match { rehash: None }
            )),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    thread_local! {
        /// Mappings made on this thread: kept memory is not mapped again
        /// (an address alone could be reused by a new mapping).
        pub(super) static MAPPED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn mapped() -> usize {
        MAPPED.with(|n| n.get())
    }

    /// The kept memory's address and size in blocks.
    fn kept() -> Option<(usize, usize)> {
        MEMORY.with(|m| {
            m.borrow_mut()
                .as_mut()
                .map(|m| (m.blocks().as_ptr() as usize, m.blocks))
        })
    }

    #[test]
    fn our_phc_strings_read_alike_with_the_argon2_crate_and_memory_is_kept() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let params = Params::new(1024, 1, 1, None).unwrap();
        let crate_argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let ours = hash_with(&params, "pw");
        let kept = kept().expect("memory kept");
        let mappings = mapped();
        assert!(crate_argon2
            .verify_password(b"pw", &PasswordHash::new(&ours).unwrap())
            .is_ok());
        let salt = SaltString::generate(&mut OsRng);
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i] {
            let theirs = Argon2::new(algorithm, Version::V0x10, params.clone())
                .hash_password(b"pw", &salt)
                .unwrap()
                .to_string();
            let theirs = PasswordHash::new(&theirs).unwrap();
            assert!(matches(&theirs, "pw", &params), "{algorithm:?}");
            assert!(!matches(&theirs, "pW", &params));
        }
        hash_with(&params, "again");
        assert_eq!(super::tests::kept(), Some(kept));
        assert_eq!(mapped(), mappings, "no new memory");
        // A stored hash costlier than the configured one is checked in
        // memory of its own: the kept block stays as it is.
        let cheaper = Params::new(512, 1, 1, None).unwrap();
        assert!(matches(&PasswordHash::new(&ours).unwrap(), "pw", &cheaper));
        assert_eq!(super::tests::kept(), Some(kept));
        assert_eq!(mapped(), mappings + 1, "one mapping of its own");
        assert_eq!(kept.1, 1024);
    }

    #[test]
    fn hash_memory_starts_on_a_huge_page_and_asks_for_huge_pages() {
        let params = Params::new(4096, 1, 1, None).unwrap();
        hash_with(&params, "pw");
        let (address, blocks) = kept().expect("memory kept");
        assert_eq!(blocks, 4096);
        assert_eq!(address % HUGE_PAGE, 0);
        // The kernel lists the advice as the mapping's `hg` flag (where it
        // has transparent huge pages at all).
        let thp = std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists();
        if cfg!(target_os = "linux") && thp {
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
            let mut inside = false;
            let flags = smaps.lines().find_map(|line| {
                if let Some((range, _)) = line.split_once(' ') {
                    if let Some((from, to)) = range.split_once('-') {
                        if let (Ok(from), Ok(to)) = (
                            usize::from_str_radix(from, 16),
                            usize::from_str_radix(to, 16),
                        ) {
                            inside = (from..to).contains(&address);
                            return None;
                        }
                    }
                }
                line.strip_prefix("VmFlags:").filter(|_| inside)
            });
            let flags = flags.expect("the mapping is listed");
            assert!(flags.split_whitespace().any(|f| f == "hg"), "{flags}");
        }
    }

    #[test]
    fn a_worker_keeps_its_memory_between_jobs_and_gives_it_back_when_idle() {
        let params = Params::new(1024, 1, 1, None).unwrap();
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        hash_with(&params, "pw");
        let memory = kept().expect("memory kept");
        assert_eq!(memory.1, 1024);
        // A job within the idle time: taken with the memory kept.
        jobs.send(Box::new(|| {})).unwrap();
        let mappings = mapped();
        next_job(&queue, Duration::from_secs(60)).expect("the waiting job")();
        hash_with(&params, "pw");
        assert_eq!((kept(), mapped()), (Some(memory), mappings));
        // None for longer: the memory goes, then the worker waits on.
        let later = jobs.clone();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            later.send(Box::new(|| {})).unwrap();
        });
        next_job(&queue, Duration::from_millis(10)).expect("the later job")();
        sender.join().unwrap();
        assert_eq!(kept(), None);
        drop(jobs);
        assert!(
            next_job(&queue, Duration::from_secs(60)).is_none(),
            "the Hasher is gone"
        );
    }

    #[tokio::test]
    async fn unknown_account_never_matches_even_the_dummy_password() {
        let h = small();
        assert_eq!(
            h.verify("anything".into(), None).await.unwrap(),
            Verified::Mismatch
        );
    }

    #[tokio::test]
    async fn weaker_hashes_are_upgraded_on_login() {
        let old = small();
        let hash = old.hash("pw-pw-pw-pw".into()).await.unwrap();
        let current = Hasher::new(HashParams::default(), 1);
        match current
            .verify("pw-pw-pw-pw".into(), Some(hash))
            .await
            .unwrap()
        {
            Verified::Match { rehash: Some(new) } => {
                assert!(new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"))
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
    }
}

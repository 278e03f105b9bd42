//! The generator's only source of randomness: a seeded xoshiro256** stream, so that one seed
//! always yields the same tree, byte for byte, whatever the number of writer threads.

/// xoshiro256** seeded through `SplitMix64` (the seeding its authors recommend).
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        let mut x = seed;
        Rng {
            state: [
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
            ],
        }
    }

    /// An independent stream for item `index` of stream `seed`: files are written in parallel,
    /// so each one draws from its own stream instead of a shared sequence.
    pub(crate) fn derive(seed: u64, index: u64) -> Self {
        Rng::new(seed ^ index.wrapping_mul(0xD134_2543_DE82_EF95).rotate_left(17))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.state[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.state[1] << 17;
        self.state[2] ^= self.state[0];
        self.state[3] ^= self.state[1];
        self.state[1] ^= self.state[2];
        self.state[0] ^= self.state[3];
        self.state[2] ^= t;
        self.state[3] = self.state[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (`n > 0`); the tiny modulo bias does not matter for test data.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi.saturating_sub(lo) + 1)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A log-normal size with the given median and spread, clamped to `min..=max`: file sizes
    /// in a real image are heavy-tailed (many small files, a few very large ones).
    pub(crate) fn lognormal(&mut self, median: f64, sigma: f64, min: u64, max: u64) -> u64 {
        // Box-Muller; 1 - unit() is in (0, 1], so ln() is finite.
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let value = median * (sigma * normal).exp();
        (value as u64).clamp(min, max)
    }

    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        let mut chunks = out.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next_u64().to_le_bytes();
        let len = rest.len();
        rest.copy_from_slice(&last[..len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_different_seeds_differ() {
        let a: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(8);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn lognormal_stays_in_bounds_and_centres_on_median() {
        let mut rng = Rng::new(1);
        let mut samples: Vec<u64> = (0..4001)
            .map(|_| rng.lognormal(10_000.0, 1.0, 100, 1_000_000))
            .collect();
        assert!(samples.iter().all(|s| (100..=1_000_000).contains(s)));
        samples.sort_unstable();
        let median = samples[2000];
        assert!((8_000..12_500).contains(&median), "median {median}");
    }
}

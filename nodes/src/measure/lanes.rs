//! Sums and maxima over a block in lanes: each lane waits only on its own
//! last addition, where one running sum waits on every one before it, so
//! the compiler keeps the lanes in vectors.

const LANES: usize = 8;

/// The sum of `samples`, in double precision.
pub(crate) fn sum(samples: &[f32]) -> f64 {
    sum_of(samples, |x| x as f64)
}

/// Σ x², in double precision.
pub(crate) fn squares(samples: &[f32]) -> f64 {
    sum_of(samples, |x| (x as f64) * (x as f64))
}

/// The sum of `term` of each sample, in double precision.
#[inline(always)]
fn sum_of(samples: &[f32], term: impl Fn(f32) -> f64) -> f64 {
    let mut sums = [0.0f64; LANES];
    let chunks = samples.chunks_exact(LANES);
    let rest: f64 = chunks.remainder().iter().map(|x| term(*x)).sum();
    for chunk in chunks {
        for (sum, x) in sums.iter_mut().zip(chunk) {
            *sum += term(*x);
        }
    }
    sums.iter().sum::<f64>() + rest
}

/// Σ l·r, Σ l² and Σ r², in double precision.
pub(crate) fn products(left: &[f32], right: &[f32]) -> [f64; 3] {
    let mut sums = [[0.0f64; LANES]; 3];
    let (l, r) = (left.chunks_exact(LANES), right.chunks_exact(LANES));
    let mut rest = [0.0f64; 3];
    for (x, y) in l.remainder().iter().zip(r.remainder()) {
        let (x, y) = (*x as f64, *y as f64);
        rest = [rest[0] + x * y, rest[1] + x * x, rest[2] + y * y];
    }
    for (a, b) in l.zip(r) {
        for i in 0..LANES {
            let (x, y) = (a[i] as f64, b[i] as f64);
            sums[0][i] += x * y;
            sums[1][i] += x * x;
            sums[2][i] += y * y;
        }
    }
    std::array::from_fn(|k| sums[k].iter().sum::<f64>() + rest[k])
}

/// The highest magnitude in `samples` (0 for none).
pub(crate) fn peak(samples: &[f32]) -> f32 {
    let mut peaks = [0.0f32; LANES];
    let chunks = samples.chunks_exact(LANES);
    let rest = chunks
        .remainder()
        .iter()
        .fold(0.0f32, |m, x| m.max(x.abs()));
    for chunk in chunks {
        for (peak, x) in peaks.iter_mut().zip(chunk) {
            *peak = peak.max(x.abs());
        }
    }
    peaks.iter().fold(rest, |m, p| m.max(*p))
}

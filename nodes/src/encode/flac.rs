//! A FLAC encoder for 16- and 24-bit stereo: fixed blocks of 4096 samples,
//! the better of FLAC's four stereo decorrelations, fixed polynomial
//! predictors (orders 0–4) and linear prediction (Levinson–Durbin on a
//! Tukey-windowed block, orders 1–8, 15-bit coefficients), wasted-bits
//! detection, and partitioned Rice
//! coding with 5-bit parameters (the `RICE2` method), which 24-bit
//! residuals need: with 4-bit parameters (all that flacenc 0.5 writes)
//! loud 24-bit audio codes larger than it is raw.
//!
//! Written for bounce because no maintained pure-Rust encoder codes 24-bit
//! audio well. Every frame is checked by `flac -t` and decoded bit for bit
//! by symphonia in the tests.

use md5::{Digest, Md5};

/// Samples per channel in every frame but the last.
pub const FLAC_BLOCK: usize = 4096;
/// "fLaC", a metadata block header and the 34-byte STREAMINFO.
pub const FLAC_HEADER: usize = 42;
const MAX_PARTITION_ORDER: u32 = 8;
const MAX_FIXED_ORDER: usize = 4;

/// Bits appended most significant first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    acc: u64,
    filled: u32,
}

impl BitWriter {
    fn put(&mut self, bits: u32, value: u64) {
        debug_assert!(bits <= 32);
        if bits == 0 {
            return;
        }
        self.acc = (self.acc << bits) | (value & ((1u64 << bits) - 1));
        self.filled += bits;
        while self.filled >= 8 {
            self.filled -= 8;
            self.bytes.push((self.acc >> self.filled) as u8);
        }
    }

    fn put_signed(&mut self, bits: u32, value: i64) {
        self.put(bits, value as u64);
    }

    /// `count` zeros and a one.
    fn put_unary(&mut self, mut count: u64) {
        while count >= 32 {
            self.put(32, 0);
            count -= 32;
        }
        self.put(count as u32 + 1, 1);
    }

    fn align(&mut self) {
        if self.filled > 0 {
            self.put(8 - self.filled, 0);
        }
    }
}

fn crc8(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |mut crc, byte| {
        crc ^= byte;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
        crc
    })
}

fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |mut crc, byte| {
        crc ^= (*byte as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x8005
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// The residual of a fixed polynomial predictor of `order`.
fn fixed_residual(samples: &[i64], order: usize, out: &mut Vec<i64>) {
    out.clear();
    let s = samples;
    out.extend((order..s.len()).map(|i| match order {
        0 => s[i],
        1 => s[i] - s[i - 1],
        2 => s[i] - 2 * s[i - 1] + s[i - 2],
        3 => s[i] - 3 * s[i - 1] + 3 * s[i - 2] - s[i - 3],
        _ => s[i] - 4 * s[i - 1] + 6 * s[i - 2] - 4 * s[i - 3] + s[i - 4],
    }));
}

fn zigzag(r: i64) -> u64 {
    ((r << 1) ^ (r >> 63)) as u64
}

/// The cheapest Rice parameter for a partition of `n` samples whose
/// zigzagged residuals sum to `sum`, and its cost in bits, estimated from
/// the sum as libFLAC does: each sample costs k + 1 bits and its value
/// shifted by k, which truncation lowers by half a unit on average.
fn rice_parameter(sum: u64, n: u64) -> (u32, u64) {
    let mean = sum / n.max(1);
    let estimate = 64 - mean.leading_zeros();
    let cost = |k: u32| {
        let truncated = if k > 0 { n / 2 } else { 0 };
        (n * (k as u64 + 1) + (sum >> k)).saturating_sub(truncated)
    };
    (estimate.saturating_sub(1)..=estimate.min(30))
        .map(|k| (k.min(30), cost(k.min(30))))
        .min_by_key(|(_, c)| *c)
        .expect("a range of candidates")
}

/// A residual coded as partitions, each with its parameter.
struct Partitioned {
    order: u32,
    parameters: Vec<u32>,
    bits: u64,
}

/// The partition order that codes `residual` (of a block of `block`
/// samples, after `warm_up` warm-up samples) in the fewest bits. The
/// residual is summed once at the finest order; each coarser order adds
/// pairs of the finer one's sums (as libFLAC does).
fn partition(residual: &[i64], block: usize, warm_up: usize) -> Partitioned {
    let fits = |order: u32| {
        let parts = 1usize << order;
        block.is_multiple_of(parts) && block / parts > warm_up
    };
    let finest = (0..=MAX_PARTITION_ORDER)
        .take_while(|order| fits(*order))
        .last()
        .unwrap_or(0);
    let size = block >> finest;
    // The residual begins after the warm-up samples, which stand in the
    // first partition.
    let mut sums: Vec<u64> = (0..1usize << finest)
        .map(|p| {
            let start = (p * size).saturating_sub(warm_up);
            let end = (p + 1) * size - warm_up;
            residual[start..end].iter().map(|r| zigzag(*r)).sum()
        })
        .collect();
    let mut best: Option<Partitioned> = None;
    let mut order = finest;
    loop {
        let size = (block >> order) as u64;
        let mut parameters = Vec::with_capacity(sums.len());
        let mut bits = 0;
        for (p, sum) in sums.iter().enumerate() {
            let len = if p == 0 { size - warm_up as u64 } else { size };
            let (k, cost) = rice_parameter(*sum, len);
            parameters.push(k);
            bits += cost + 5;
        }
        // Coarser wins ties: fewer parameters to write.
        if best.as_ref().is_none_or(|b| bits <= b.bits) {
            best = Some(Partitioned {
                order,
                parameters,
                bits,
            });
        }
        if order == 0 {
            break;
        }
        sums = sums.chunks(2).map(|pair| pair.iter().sum()).collect();
        order -= 1;
    }
    best.expect("order 0 always fits")
}

/// How one channel of a frame is coded.
enum Subframe {
    Constant(i64),
    Verbatim,
    Predicted {
        predictor: Predictor,
        residual: Vec<i64>,
        partitioned: Partitioned,
    },
}

/// What predicts each sample from the ones before it.
#[derive(Debug, Clone, PartialEq)]
enum Predictor {
    /// One of FLAC's fixed polynomials, orders 0–4.
    Fixed(usize),
    /// Quantised linear prediction: `Σ c[j]·x[n−1−j] >> shift`.
    Lpc {
        coefficients: Vec<i64>,
        precision: u32,
        shift: u32,
    },
}

impl Predictor {
    fn order(&self) -> usize {
        match self {
            Predictor::Fixed(order) => *order,
            Predictor::Lpc { coefficients, .. } => coefficients.len(),
        }
    }

    /// Warm-up samples and coefficients, in bits.
    fn header_bits(&self, bits: u32) -> u64 {
        let warm_up = self.order() as u64 * bits as u64;
        match self {
            Predictor::Fixed(_) => warm_up,
            Predictor::Lpc {
                coefficients,
                precision,
                ..
            } => warm_up + 9 + coefficients.len() as u64 * *precision as u64,
        }
    }

    fn residual(&self, samples: &[i64], out: &mut Vec<i64>) {
        match self {
            Predictor::Fixed(order) => fixed_residual(samples, *order, out),
            Predictor::Lpc {
                coefficients,
                shift,
                ..
            } => lpc_residual(samples, coefficients, *shift, out),
        }
    }
}

/// Bits of each quantised LPC coefficient.
const LPC_PRECISION: u32 = 15;
const MAX_LPC_ORDER: usize = 8;

fn lpc_residual(samples: &[i64], coefficients: &[i64], shift: u32, out: &mut Vec<i64>) {
    let order = coefficients.len();
    out.clear();
    out.extend((order..samples.len()).map(|i| {
        let history = &samples[i - order..i];
        let prediction: i64 = coefficients
            .iter()
            .zip(history.iter().rev())
            .map(|(c, x)| c * x)
            .sum();
        samples[i] - (prediction >> shift)
    }));
}

/// The Tukey(0.5) window of a block of `n` samples.
fn tukey(n: usize) -> Vec<f64> {
    let taper = (n / 4).max(1);
    (0..n)
        .map(|i| {
            let edge = i.min(n - 1 - i);
            if edge >= taper {
                1.0
            } else {
                0.5 - 0.5 * (std::f64::consts::PI * edge as f64 / taper as f64).cos()
            }
        })
        .collect()
}

/// Autocorrelation of the block under `window`, lags 0 to
/// [`MAX_LPC_ORDER`]. Every lag is summed in sample order, all lags in one
/// pass, so the sums run side by side instead of one after another.
fn autocorrelation(samples: &[i64], window: &[f64]) -> [f64; MAX_LPC_ORDER + 1] {
    let windowed: Vec<f64> = samples
        .iter()
        .zip(window)
        .map(|(x, w)| *x as f64 * w)
        .collect();
    let mut autoc = [0.0; MAX_LPC_ORDER + 1];
    for (i, x) in windowed.iter().enumerate().take(MAX_LPC_ORDER) {
        for (lag, sum) in autoc.iter_mut().enumerate().take(i + 1) {
            *sum += x * windowed[i - lag];
        }
    }
    for history in windowed.windows(MAX_LPC_ORDER + 1) {
        let x = history[MAX_LPC_ORDER];
        for (lag, sum) in autoc.iter_mut().enumerate() {
            *sum += x * history[MAX_LPC_ORDER - lag];
        }
    }
    autoc
}

/// Levinson–Durbin: predictor coefficients for every order up to
/// `autoc.len() − 1` (fewer if the signal is fully predicted sooner), each
/// with its prediction error (of the windowed block).
fn levinson(autoc: &[f64]) -> Vec<(Vec<f64>, f64)> {
    let max = autoc.len() - 1;
    let mut lpc = vec![0.0; max];
    let mut error = autoc[0];
    let mut orders = Vec::new();
    for i in 0..max {
        if error <= 0.0 {
            break;
        }
        let mut r = -autoc[i + 1];
        for j in 0..i {
            r -= lpc[j] * autoc[i - j];
        }
        r /= error;
        lpc[i] = r;
        for j in 0..i / 2 {
            let tmp = lpc[j];
            lpc[j] += r * lpc[i - 1 - j];
            lpc[i - 1 - j] += r * tmp;
        }
        if i % 2 == 1 {
            lpc[i / 2] += lpc[i / 2] * r;
        }
        error *= 1.0 - r * r;
        orders.push((lpc[..=i].iter().map(|c| -c).collect(), error));
    }
    orders
}

/// Coefficients quantised to `precision` bits with the shift that keeps
/// the largest in range (error feedback spreads the rounding), or `None`
/// where FLAC's shift field cannot hold the shift.
fn quantise(coefficients: &[f64], precision: u32) -> Option<(Vec<i64>, u32)> {
    let largest = coefficients.iter().fold(0.0f64, |m, c| m.max(c.abs()));
    if largest <= 0.0 || !largest.is_finite() {
        return None;
    }
    let log2 = largest.log2().floor() as i32 + 1;
    let shift = (precision as i32 - 1 - log2).min(15);
    if shift < 0 {
        return None;
    }
    let (low, high) = (-(1i64 << (precision - 1)), (1i64 << (precision - 1)) - 1);
    let mut carried = 0.0;
    let quantised = coefficients
        .iter()
        .map(|c| {
            carried += c * (1u64 << shift) as f64;
            let q = (carried.round() as i64).clamp(low, high);
            carried -= q as f64;
            q
        })
        .collect();
    Some((quantised, shift as u32))
}

/// The fixed polynomial order (0 to 4) whose residual has the smallest
/// sum of magnitudes, with that sum: all five from one pass, each order's
/// residual being the difference of the one below (as libFLAC does).
fn best_fixed_order(samples: &[i64]) -> (usize, u64) {
    let order = MAX_FIXED_ORDER.min(samples.len() - 1);
    let mut sums = [0u64; MAX_FIXED_ORDER + 1];
    let mut last = [0i64; MAX_FIXED_ORDER];
    for (i, s) in samples.iter().enumerate() {
        let mut d = *s;
        for (k, previous) in last.iter_mut().enumerate() {
            let next = d - *previous;
            *previous = d;
            if i >= MAX_FIXED_ORDER {
                sums[k] += d.unsigned_abs();
            }
            d = next;
        }
        if i >= MAX_FIXED_ORDER {
            sums[MAX_FIXED_ORDER] += d.unsigned_abs();
        }
    }
    (0..=order)
        .map(|k| (k, sums[k]))
        .min_by_key(|(_, sum)| *sum)
        .expect("order 0 is always there")
}

/// The LPC order whose prediction error promises the fewest bits, as the
/// reference encoder estimates it (bits per residual sample =
/// ½·log2(error / samples), plus its warm-up and coefficients).
fn best_lpc(samples: &[i64], window: &[f64], bits: u32) -> Option<Predictor> {
    let n = samples.len();
    let autoc = autocorrelation(samples, window);
    let expected = |order: usize, error: f64| {
        let per_sample = if error > 0.0 {
            (0.5 * (error / n as f64).log2()).max(0.0)
        } else {
            0.0
        };
        per_sample * (n - order) as f64 + (order as u32 * (bits + LPC_PRECISION)) as f64
    };
    let (order, (coefficients, _)) = levinson(&autoc)
        .into_iter()
        .enumerate()
        .map(|(i, c)| (i + 1, c))
        .min_by(|(a, (_, ea)), (b, (_, eb))| expected(*a, *ea).total_cmp(&expected(*b, *eb)))?;
    debug_assert_eq!(order, coefficients.len());
    let (coefficients, shift) = quantise(&coefficients, LPC_PRECISION)?;
    Some(Predictor::Lpc {
        coefficients,
        precision: LPC_PRECISION,
        shift,
    })
}

/// One channel's samples, ready to code at `bits` per sample.
struct Channel<'a> {
    samples: &'a [i64],
    bits: u32,
    /// The LPC analysis window, as long as the block.
    window: &'a [f64],
}

impl Channel<'_> {
    /// Trailing zero bits every sample shares.
    fn wasted_bits(&self) -> u32 {
        let all = self.samples.iter().fold(0i64, |acc, s| acc | s);
        if all == 0 {
            0
        } else {
            all.trailing_zeros().min(self.bits - 1)
        }
    }

    /// The cheapest coding and its size in bits (without the header).
    fn choose(&self, shifted: &[i64], bits: u32) -> (Subframe, u64) {
        if shifted.iter().all(|s| *s == shifted[0]) {
            return (Subframe::Constant(shifted[0]), bits as u64);
        }
        let n = shifted.len();
        let verbatim = n as u64 * bits as u64;
        // Candidates, as the reference encoder chooses at its default
        // level: the best fixed order by the sum of its residual, and the
        // LPC order whose prediction error promises the fewest bits; the
        // better of the two by the residual's magnitude is coded exactly.
        let estimate = |predictor: &Predictor, magnitude: u64, count: usize| {
            // Rice codes cost about log2 of the mean magnitude per sample.
            let mean = magnitude as f64 / count.max(1) as f64;
            let per_sample = (mean + 1.0).log2() + 1.5;
            predictor.header_bits(bits) + (count as f64 * per_sample) as u64
        };
        let (order, magnitude) = best_fixed_order(shifted);
        let fixed = Predictor::Fixed(order);
        let mut best = (estimate(&fixed, magnitude, n - order), fixed);
        let mut residual = Vec::with_capacity(n);
        if let Some(lpc) = (n > MAX_LPC_ORDER * 2)
            .then(|| best_lpc(shifted, self.window, bits))
            .flatten()
        {
            lpc.residual(shifted, &mut residual);
            let magnitude = residual.iter().map(|r| r.unsigned_abs()).sum();
            let lpc_estimate = estimate(&lpc, magnitude, residual.len());
            if lpc_estimate < best.0 {
                best = (lpc_estimate, lpc);
            }
        }
        let predictor = best.1;
        // The LPC residual is already there when LPC won.
        if matches!(predictor, Predictor::Fixed(_)) {
            predictor.residual(shifted, &mut residual);
        }
        let partitioned = partition(&residual, n, predictor.order());
        let size = predictor.header_bits(bits) + 6 + partitioned.bits;
        if size < verbatim {
            (
                Subframe::Predicted {
                    predictor,
                    residual,
                    partitioned,
                },
                size,
            )
        } else {
            (Subframe::Verbatim, verbatim)
        }
    }

    /// How the channel is best coded, and its size in bits; written only
    /// if the frame's channel assignment takes it.
    fn plan(&self) -> Plan {
        let wasted = self.wasted_bits();
        let shifted: Vec<i64> = self.samples.iter().map(|s| s >> wasted).collect();
        let bits = self.bits - wasted;
        let (subframe, size) = self.choose(&shifted, bits);
        Plan {
            subframe,
            shifted,
            bits,
            wasted,
            size,
        }
    }
}

/// A channel's chosen coding.
struct Plan {
    subframe: Subframe,
    shifted: Vec<i64>,
    bits: u32,
    wasted: u32,
    size: u64,
}

impl Plan {
    fn write(&self, w: &mut BitWriter) {
        write_subframe(w, &self.subframe, &self.shifted, self.bits, self.wasted);
    }
}

fn write_subframe(w: &mut BitWriter, subframe: &Subframe, samples: &[i64], bits: u32, wasted: u32) {
    let kind = match subframe {
        Subframe::Constant(_) => 0,
        Subframe::Verbatim => 1,
        Subframe::Predicted { predictor, .. } => match predictor {
            Predictor::Fixed(order) => 8 | *order as u64,
            Predictor::Lpc { coefficients, .. } => 32 | (coefficients.len() as u64 - 1),
        },
    };
    w.put(1, 0);
    w.put(6, kind);
    if wasted > 0 {
        w.put(1, 1);
        w.put_unary(wasted as u64 - 1);
    } else {
        w.put(1, 0);
    }
    match subframe {
        Subframe::Constant(value) => w.put_signed(bits, *value),
        Subframe::Verbatim => samples.iter().for_each(|s| w.put_signed(bits, *s)),
        Subframe::Predicted {
            predictor,
            residual,
            partitioned,
        } => {
            let order = &predictor.order();
            for s in &samples[..*order] {
                w.put_signed(bits, *s);
            }
            if let Predictor::Lpc {
                coefficients,
                precision,
                shift,
            } = predictor
            {
                w.put(4, *precision as u64 - 1);
                w.put_signed(5, *shift as i64);
                for c in coefficients {
                    w.put_signed(*precision, *c);
                }
            }
            let wide = partitioned.parameters.iter().any(|k| *k > 14);
            let parameter_bits = if wide { 5 } else { 4 };
            w.put(2, wide as u64);
            w.put(4, partitioned.order as u64);
            let parts = 1usize << partitioned.order;
            let size = samples.len() / parts;
            let mut start = 0;
            for (p, k) in partitioned.parameters.iter().enumerate() {
                let len = if p == 0 { size - order } else { size };
                w.put(parameter_bits, *k as u64);
                for r in &residual[start..start + len] {
                    let u = zigzag(*r);
                    let quotient = u >> k;
                    if quotient + 1 + (*k as u64) <= 32 {
                        // Unary quotient, its stop bit and the k low bits in one put.
                        w.put(quotient as u32 + 1 + k, (1 << k) | (u & ((1 << k) - 1)));
                    } else {
                        w.put_unary(quotient);
                        w.put(*k, u);
                    }
                }
                start += len;
            }
        }
    }
}

/// A stream being encoded frame by frame.
pub struct FlacStream {
    rate: u32,
    bits: u32,
    /// 1 or 2.
    channels: u16,
    pending: [Vec<i64>; 2],
    frame: u64,
    samples: u64,
    md5: Md5,
    frame_sizes: Option<(usize, usize)>,
    /// The LPC window of a whole block (the last, shorter one makes its own).
    window: Vec<f64>,
}

impl FlacStream {
    /// A stream of `channels` (1 or 2) of `bits` (16 or 24) at `rate`.
    pub fn of_channels(rate: u32, bits: u32, channels: u16) -> Self {
        FlacStream {
            rate,
            bits,
            channels,
            pending: [Vec::new(), Vec::new()],
            frame: 0,
            samples: 0,
            md5: Md5::new(),
            frame_sizes: None,
            window: tukey(FLAC_BLOCK),
        }
    }

    /// Takes samples; returns the bytes of every frame completed.
    pub fn push(&mut self, left: &[i32], right: &[i32]) -> Vec<u8> {
        let width = (self.bits / 8) as usize;
        let mut raw = Vec::with_capacity(left.len() * 2 * width);
        for (l, r) in left.iter().zip(right) {
            raw.extend_from_slice(&l.to_le_bytes()[..width]);
            raw.extend_from_slice(&r.to_le_bytes()[..width]);
        }
        self.md5.update(&raw);
        self.samples += left.len() as u64;
        self.pending[0].extend(left.iter().map(|s| *s as i64));
        self.pending[1].extend(right.iter().map(|s| *s as i64));
        let mut out = Vec::new();
        while self.pending[0].len() >= FLAC_BLOCK {
            let left: Vec<i64> = self.pending[0].drain(..FLAC_BLOCK).collect();
            let right: Vec<i64> = self.pending[1].drain(..FLAC_BLOCK).collect();
            out.extend(self.encode_frame(&left, &right));
        }
        out
    }

    /// Takes a mono stream's samples; returns the bytes of every frame
    /// completed.
    pub fn push_mono(&mut self, samples: &[i32]) -> Vec<u8> {
        let width = (self.bits / 8) as usize;
        let mut raw = Vec::with_capacity(samples.len() * width);
        for s in samples {
            raw.extend_from_slice(&s.to_le_bytes()[..width]);
        }
        self.md5.update(&raw);
        self.samples += samples.len() as u64;
        self.pending[0].extend(samples.iter().map(|s| *s as i64));
        let mut out = Vec::new();
        while self.pending[0].len() >= FLAC_BLOCK {
            let block: Vec<i64> = self.pending[0].drain(..FLAC_BLOCK).collect();
            out.extend(self.encode_mono_frame(&block));
        }
        out
    }

    /// The last, partial frame; then [`FlacStream::header`] is final.
    pub fn finish(&mut self) -> Vec<u8> {
        let left = std::mem::take(&mut self.pending[0]);
        let right = std::mem::take(&mut self.pending[1]);
        match (left.is_empty(), self.channels) {
            (true, _) => Vec::new(),
            (false, 1) => self.encode_mono_frame(&left),
            (false, _) => self.encode_frame(&left, &right),
        }
    }

    /// "fLaC" and STREAMINFO for what has been pushed so far.
    pub fn header(&self) -> [u8; FLAC_HEADER] {
        let mut w = BitWriter::default();
        w.bytes.extend_from_slice(b"fLaC");
        w.put(1, 1); // the last metadata block until tags are added
        w.put(7, 0);
        w.put(24, 34);
        // The minimum excludes the last block (FLAC format, STREAMINFO).
        w.put(16, FLAC_BLOCK as u64);
        w.put(16, FLAC_BLOCK as u64);
        let (low, high) = self.frame_sizes.unwrap_or((0, 0));
        w.put(24, low as u64);
        w.put(24, high as u64);
        w.put(20, self.rate as u64);
        w.put(3, self.channels as u64 - 1);
        w.put(5, self.bits as u64 - 1);
        w.put(4, self.samples >> 32);
        w.put(32, self.samples & 0xffff_ffff);
        let digest = self.md5.clone().finalize();
        w.bytes.extend_from_slice(&digest);
        w.bytes.try_into().expect("42 bytes")
    }

    /// The LPC window of a frame of `n`: the whole block's, or the
    /// last, shorter frame's own.
    fn window_for(&self, n: usize) -> std::borrow::Cow<'_, [f64]> {
        if n == self.window.len() {
            std::borrow::Cow::Borrowed(&self.window)
        } else {
            std::borrow::Cow::Owned(tukey(n))
        }
    }

    fn encode_frame(&mut self, left: &[i64], right: &[i64]) -> Vec<u8> {
        let n = left.len();
        let side: Vec<i64> = left.iter().zip(right).map(|(l, r)| l - r).collect();
        let mid: Vec<i64> = left.iter().zip(right).map(|(l, r)| (l + r) >> 1).collect();
        let bits = self.bits;
        let window = &self.window_for(n)[..];
        let channel = |samples: &[i64], bits: u32| {
            Channel {
                samples,
                bits,
                window,
            }
            .plan()
        };
        let (l, r, s, m) = (
            channel(left, bits),
            channel(right, bits),
            channel(&side, bits + 1),
            channel(&mid, bits),
        );
        // Channel assignments: independent, left/side, side/right, mid/side.
        let choices = [
            (0b0001, &l, &r, l.size + r.size),
            (0b1000, &l, &s, l.size + s.size),
            (0b1001, &s, &r, s.size + r.size),
            (0b1010, &m, &s, m.size + s.size),
        ];
        let (assignment, first, second, _) =
            choices.iter().min_by_key(|c| c.3).expect("four choices");
        self.frame(n, *assignment, &[first, second])
    }

    /// A mono frame: its one subframe (FLAC format, channel assignment
    /// 0000: one independent channel).
    fn encode_mono_frame(&mut self, samples: &[i64]) -> Vec<u8> {
        let n = samples.len();
        let window = &self.window_for(n)[..];
        let planned = Channel {
            samples,
            bits: self.bits,
            window,
        }
        .plan();
        self.frame(n, 0b0000, &[&planned])
    }

    /// A frame of `n` samples a channel: its header with `assignment`,
    /// the subframes, and the CRCs.
    fn frame(&mut self, n: usize, assignment: u64, subframes: &[&Plan]) -> Vec<u8> {
        let bits = self.bits;
        let mut w = BitWriter::default();
        w.put(16, 0xfff8);
        let block_code = if n == FLAC_BLOCK { 0b1100 } else { 0b0111 };
        w.put(4, block_code);
        w.put(4, rate_code(self.rate));
        w.put(4, assignment);
        w.put(3, if bits == 16 { 0b100 } else { 0b110 });
        w.put(1, 0);
        for byte in utf8_number(self.frame) {
            w.put(8, byte as u64);
        }
        if block_code == 0b0111 {
            w.put(16, n as u64 - 1);
        }
        let crc = crc8(&w.bytes);
        w.put(8, crc as u64);
        for subframe in subframes {
            subframe.write(&mut w);
        }
        w.align();
        let crc = crc16(&w.bytes);
        w.put(16, crc as u64);
        self.frame += 1;
        let size = w.bytes.len();
        self.frame_sizes = Some(match self.frame_sizes {
            Some((low, high)) => (low.min(size), high.max(size)),
            None => (size, size),
        });
        w.bytes
    }
}

fn rate_code(rate: u32) -> u64 {
    match rate {
        88200 => 0b0001,
        176400 => 0b0010,
        192000 => 0b0011,
        8000 => 0b0100,
        16000 => 0b0101,
        22050 => 0b0110,
        24000 => 0b0111,
        32000 => 0b1000,
        44100 => 0b1001,
        48000 => 0b1010,
        96000 => 0b1011,
        _ => 0b0000, // as STREAMINFO says
    }
}

/// A frame number in FLAC's UTF-8-like coding.
fn utf8_number(n: u64) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    let mut continuation = Vec::new();
    let mut rest = n;
    let mut lead_bits = 6u32;
    loop {
        continuation.push(0x80 | (rest & 0x3f) as u8);
        rest >>= 6;
        lead_bits -= 1;
        if rest < (1 << lead_bits) {
            break;
        }
    }
    let count = continuation.len() as u32 + 1;
    let lead = (0xffu16 << (8 - count)) as u8 | rest as u8;
    let mut out = vec![lead];
    out.extend(continuation.iter().rev());
    out
}

/// A FLAC file: the STREAMINFO reserved first and written once the
/// stream is known, frames as they complete.
pub(super) struct FlacLayout {
    stream: FlacStream,
}

impl FlacLayout {
    pub(super) fn new(format: super::PcmFormat) -> Self {
        FlacLayout {
            stream: FlacStream::of_channels(
                format.sample_rate,
                format.bits as u32,
                format.channels,
            ),
        }
    }
}

impl super::Layout for FlacLayout {
    fn header(&mut self) -> Vec<u8> {
        vec![0; FLAC_HEADER]
    }

    fn integers(&mut self, channels: &[&[i32]], out: &mut Vec<u8>) {
        match channels {
            [mono] => out.extend(self.stream.push_mono(mono)),
            [left, right] => out.extend(self.stream.push(left, right)),
            _ => unreachable!("a FLAC stream of one or two channels"),
        }
    }

    fn finish(
        &mut self,
        _: u64,
        _: u64,
        _: &crate::LoudnessReport,
    ) -> Result<super::Ending, String> {
        Ok(super::Ending {
            trailer: self.stream.finish(),
            patches: vec![(0, self.stream.header().to_vec())],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DecodedFile;

    /// Music-like 24- or 16-bit stereo: chords, noise and a silent stretch
    /// (a constant subframe), `frames` long.
    fn signal(bits: u32, frames: usize) -> [Vec<i32>; 2] {
        let full = ((1i64 << (bits - 1)) - 1) as f64;
        let mut seed = 7u32;
        let mut left = Vec::new();
        let mut right = Vec::new();
        for i in 0..frames {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            let noise = (seed >> 8) as f64 / (1u32 << 24) as f64 - 0.5;
            let t = i as f64 / 48000.0;
            let tone = (std::f64::consts::TAU * 220.0 * t).sin() * 0.5
                + (std::f64::consts::TAU * 1870.0 * t).sin() * 0.2;
            let silent = (10000..14096).contains(&i);
            let gain = if silent { 0.0 } else { 1.0 };
            left.push((gain * full * (tone + 0.05 * noise)).round() as i32);
            right.push((gain * full * (0.8 * tone - 0.05 * noise)).round() as i32);
        }
        [left, right]
    }

    fn encode(bits: u32, frames: usize, path: &std::path::Path) -> [Vec<i32>; 2] {
        let [left, right] = signal(bits, frames);
        let mut stream = FlacStream::of_channels(48000, bits, 2);
        let mut bytes = vec![0u8; FLAC_HEADER];
        for (l, r) in left.chunks(1000).zip(right.chunks(1000)) {
            bytes.extend(stream.push(l, r));
        }
        bytes.extend(stream.finish());
        bytes[..FLAC_HEADER].copy_from_slice(&stream.header());
        std::fs::write(path, bytes).unwrap();
        [left, right]
    }

    #[test]
    fn decodes_bit_for_bit_at_16_and_24_bits() {
        let dir = tempfile::tempdir().unwrap();
        for bits in [16, 24] {
            let path = dir.path().join(format!("t{bits}.flac"));
            // Not a whole number of blocks: the last frame is short.
            let [left, right] = encode(bits, 3 * FLAC_BLOCK + 1234, &path);
            let mut file = DecodedFile::open(&path).unwrap();
            assert_eq!(file.info().bits, Some(bits));
            let scale = (1i64 << (bits - 1)) as f32;
            let mut block = crate::StereoBuffer::default();
            let mut decoded = [Vec::new(), Vec::new()];
            loop {
                let n = block.fill_from(&mut file).unwrap();
                if n == 0 {
                    break;
                }
                decoded[0].extend(block.left[..n].iter().map(|s| (s * scale) as i32));
                decoded[1].extend(block.right[..n].iter().map(|s| (s * scale) as i32));
            }
            assert!(decoded[0] == left, "{bits}-bit left differs");
            assert!(decoded[1] == right, "{bits}-bit right differs");
            let raw = left.len() * 2 * bits as usize / 8;
            let size = std::fs::metadata(&path).unwrap().len() as usize;
            // 5 % noise keeps it from compressing far; it must not grow.
            assert!(size < raw * 9 / 10, "{bits}-bit: {size} of {raw} bytes");
        }
    }

    #[test]
    fn linear_prediction_wins_on_tonal_audio_and_round_trips() {
        // Two tones and a little noise, at 24 bits.
        let mut seed = 3u32;
        let samples: Vec<i64> = (0..FLAC_BLOCK)
            .map(|i| {
                seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
                let noise = (seed >> 8) as f64 / (1u32 << 24) as f64 - 0.5;
                let t = i as f64 / 48000.0;
                let tone = 0.4 * (std::f64::consts::TAU * 440.0 * t).sin()
                    + 0.2 * (std::f64::consts::TAU * 3520.0 * t).sin();
                ((tone + 1e-4 * noise) * 8_388_607.0).round() as i64
            })
            .collect();
        let window = tukey(samples.len());
        let channel = Channel {
            samples: &samples,
            bits: 24,
            window: &window,
        };
        let (subframe, size) = channel.choose(&samples, 24);
        let Subframe::Predicted {
            predictor,
            residual,
            ..
        } = &subframe
        else {
            panic!("a predicted subframe")
        };
        assert!(matches!(predictor, Predictor::Lpc { .. }), "{predictor:?}");
        // Undo the prediction: the samples come back exactly.
        let Predictor::Lpc {
            coefficients,
            shift,
            ..
        } = predictor
        else {
            unreachable!()
        };
        let order = coefficients.len();
        let mut rebuilt = samples[..order].to_vec();
        for (i, r) in residual.iter().enumerate() {
            let at = i + order;
            let prediction: i64 = coefficients
                .iter()
                .zip(rebuilt[at - order..at].iter().rev())
                .map(|(c, x)| c * x)
                .sum();
            rebuilt.push(r + (prediction >> shift));
        }
        assert_eq!(rebuilt, samples);
        let (_, fixed_only) = {
            let mut residual = Vec::new();
            fixed_residual(&samples, 2, &mut residual);
            (0, partition(&residual, samples.len(), 2).bits)
        };
        assert!(
            size < fixed_only,
            "LPC {size} bits against fixed {fixed_only}"
        );
    }

    #[test]
    fn frame_numbers_use_the_utf8_like_coding() {
        assert_eq!(utf8_number(0x7f), [0x7f]);
        assert_eq!(utf8_number(0x80), [0xc2, 0x80]);
        assert_eq!(utf8_number(0x800), [0xe0, 0xa0, 0x80]);
        assert_eq!(utf8_number(0x10000), [0xf0, 0x90, 0x80, 0x80]);
    }
}

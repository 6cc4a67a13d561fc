//! Speed of each processor, in times realtime on 48 kHz stereo noise.
//! Run with `cargo bench -p bounce-nodes --bench processors`; prints one
//! line per processor: `name x_realtime`.

use std::time::Instant;

use bounce_nodes::processors::{
    BandParams, Breakpoint, CompressorParams, EqBand, Parameter, ProcessorContext,
};
use bounce_nodes::{
    BlockSource, LoudnessMeter, PanLaw, ProcessorSpec, Quantizer, Resampled, BLOCK_FRAMES,
};

const RATE: u32 = 48000;
const SECONDS: f64 = 60.0;

fn noise(frames: usize) -> Vec<f32> {
    let mut state = 1u64;
    (0..frames)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (0.5 * (((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0)) as f32
        })
        .collect()
}

/// A denoiser whose profile is learnt from the signal's first second.
fn denoiser(signal: &[f32]) -> ProcessorSpec {
    use bounce_nodes::processors::{DenoiseParams, NoiseProfiler};
    let params = DenoiseParams {
        amount: 12.0,
        from: 0.0,
        to: 1.0,
    };
    let mut profiler = NoiseProfiler::new(&params, RATE);
    let second = &signal[..RATE as usize];
    bounce_nodes::BlockSink::write(&mut profiler, second, second).unwrap();
    ProcessorSpec::Denoise {
        params,
        profile: Some(profiler.profile().unwrap()),
    }
}

fn time(name: &str, mut run: impl FnMut()) {
    let started = Instant::now();
    run();
    let elapsed = started.elapsed().as_secs_f64();
    println!("{name} {:.0}", SECONDS / elapsed);
}

fn main() {
    let frames = (RATE as f64 * SECONDS) as usize;
    let signal = noise(frames);
    let context = ProcessorContext {
        sample_rate: RATE,
        total_frames: frames as u64,
    };
    let compressor = CompressorParams {
        threshold: -20.0,
        ratio: 4.0,
        attack: 10.0,
        release: 100.0,
        knee: 6.0,
        ..CompressorParams::default()
    };
    let processors = [
        ("gain", ProcessorSpec::Gain { db: -3.0 }),
        (
            "pan",
            ProcessorSpec::Pan {
                position: 0.3,
                law: PanLaw::Balance,
            },
        ),
        ("width", ProcessorSpec::Width { width: 1.2 }),
        (
            "eq",
            ProcessorSpec::Eq {
                bands: vec![
                    EqBand::Highpass {
                        freq: 25.0,
                        slope: 24,
                    },
                    EqBand::LowShelf {
                        freq: 100.0,
                        gain: 1.0,
                        q: 0.707,
                    },
                    EqBand::Bell {
                        freq: 3000.0,
                        gain: -1.5,
                        q: 1.2,
                    },
                    EqBand::HighShelf {
                        freq: 10000.0,
                        gain: 1.0,
                        q: 0.707,
                    },
                ],
            },
        ),
        ("compress", ProcessorSpec::Compress { params: compressor }),
        (
            "multiband",
            ProcessorSpec::Multiband {
                crossovers: vec![120.0, 2000.0, 8000.0],
                bands: vec![
                    BandParams {
                        compressor,
                        gain: 0.0
                    };
                    4
                ],
            },
        ),
        (
            "limit",
            ProcessorSpec::Limit {
                ceiling: -1.0,
                release: 50.0,
                lookahead: 5.0,
            },
        ),
        (
            "delay",
            ProcessorSpec::Delay {
                seconds: 0.25,
                mix: 0.3,
                feedback: 0.4,
            },
        ),
        (
            "reverb",
            ProcessorSpec::Reverb {
                size: 0.7,
                damping: 0.5,
                mix: 0.3,
            },
        ),
        (
            "automate",
            ProcessorSpec::Automate {
                parameter: Parameter::Gain,
                points: vec![
                    Breakpoint {
                        time: 0.0,
                        value: -60.0,
                    },
                    Breakpoint {
                        time: SECONDS,
                        value: 0.0,
                    },
                ],
                law: PanLaw::Balance,
            },
        ),
        (
            "gate",
            ProcessorSpec::Gate {
                params: bounce_nodes::processors::GateParams::from_numbers(&[
                    -45.0, -20.0, 2.0, 100.0, 150.0, 4.0, 5.0,
                ]),
            },
        ),
        (
            "de-ess",
            ProcessorSpec::DeEss {
                threshold: -30.0,
                reduction: 6.0,
                low: 5000.0,
                high: 9000.0,
                release: 40.0,
            },
        ),
        (
            "level",
            ProcessorSpec::Level {
                lufs: -19.0,
                max_gain: 15.0,
                max_cut: 15.0,
                rate: 3.0,
                silence: -50.0,
            },
        ),
        ("denoise", denoiser(&signal)),
    ];
    for (name, spec) in processors {
        let mut processor = spec.build(&context);
        let (mut left, mut right) = (signal.clone(), signal.clone());
        time(name, || {
            for (l, r) in left
                .chunks_mut(BLOCK_FRAMES)
                .zip(right.chunks_mut(BLOCK_FRAMES))
            {
                processor.process(l, r);
            }
        });
    }
    // The limiter's gain stage alone, as the loudness solver and the fits
    // run it on a detection kept from one pass.
    let mut peaks = Vec::new();
    let mut detector = bounce_nodes::processors::PeakDetector::new(RATE);
    detector.detect(&signal, &signal, &mut peaks);
    let (mut left, mut right) = (signal.clone(), signal.clone());
    time("limiter-gain-stage", || {
        let mut limiter = bounce_nodes::processors::Limiter::new(-1.0, 50.0, 5.0, RATE);
        for ((l, r), p) in left
            .chunks_mut(BLOCK_FRAMES)
            .zip(right.chunks_mut(BLOCK_FRAMES))
            .zip(peaks.chunks(BLOCK_FRAMES))
        {
            limiter.process_detected(l, r, p, 2.0);
        }
        std::hint::black_box(limiter.mean_reduction_db());
    });
    // The limiter's detection alone (8× and the meter's phases), as a
    // master's envelope and each fit's are made.
    time("peak-detection", || {
        let mut detector = bounce_nodes::processors::PeakDetector::new(RATE);
        let mut peaks = Vec::new();
        for chunk in signal.chunks(BLOCK_FRAMES) {
            peaks.clear();
            detector.detect(chunk, chunk, &mut peaks);
        }
        std::hint::black_box(&peaks);
    });
    time("true-peak-meter", || {
        let mut meter = bounce_nodes::TruePeakMeter::new(RATE);
        for chunk in signal.chunks(BLOCK_FRAMES) {
            bounce_nodes::BlockSink::write(&mut meter, chunk, chunk).unwrap();
        }
        std::hint::black_box(meter.true_peak_db());
    });
    time("loudness-meter", || {
        let mut meter = LoudnessMeter::full(RATE).unwrap();
        for chunk in signal.chunks(BLOCK_FRAMES) {
            bounce_nodes::BlockSink::write(&mut meter, chunk, chunk).unwrap();
        }
        meter.report().unwrap();
    });
    time("loudness-meter-integrated", || {
        let mut meter = LoudnessMeter::integrated_only(RATE).unwrap();
        for chunk in signal.chunks(BLOCK_FRAMES) {
            bounce_nodes::BlockSink::write(&mut meter, chunk, chunk).unwrap();
        }
        meter.report().unwrap();
    });
    time("loudness-meter-program", || {
        let mut meter = LoudnessMeter::program(RATE).unwrap();
        for chunk in signal.chunks(BLOCK_FRAMES) {
            bounce_nodes::BlockSink::write(&mut meter, chunk, chunk).unwrap();
        }
        meter.report().unwrap();
    });
    time("dither-16", || {
        let mut q = Quantizer::new(16, bounce_nodes::Dither::Tpdf, 1);
        let mut sum = 0i64;
        for x in signal.iter() {
            sum += q.quantize(*x) as i64 + q.quantize(*x) as i64;
        }
        std::hint::black_box(sum);
    });
    time("resample-48k-44k1", || {
        struct Source<'a>(&'a [f32], usize);
        impl BlockSource for Source<'_> {
            fn read(
                &mut self,
                l: &mut [f32],
                r: &mut [f32],
            ) -> Result<usize, bounce_nodes::AudioError> {
                let n = l.len().min(self.0.len() - self.1);
                l[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                r[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let mut resampled = Resampled::new(Source(&signal, 0), RATE, 44100).unwrap();
        let (mut l, mut r) = (vec![0.0; BLOCK_FRAMES], vec![0.0; BLOCK_FRAMES]);
        while resampled.read(&mut l, &mut r).unwrap() > 0 {}
    });
}

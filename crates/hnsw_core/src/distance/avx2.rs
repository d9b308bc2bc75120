//! AVX2 + FMA (+ F16C) kernels. Every function here is `unsafe` with `#[target_feature]`: callers
//! must have checked that the CPU has the features (see `Implementation::is_available`).
//! Each kernel keeps two 8-lane accumulators (16 floats a step) to hide FMA latency, then
//! finishes the tail (< 16 elements) with one 8-wide step and a scalar loop.
#![allow(unsafe_code)] // see the crate header

use crate::element::f16;
use std::arch::x86_64::*;

/// Sum of the eight lanes (safe to call from the kernels, which enable the same features).
#[target_feature(enable = "avx2,fma")]
fn horizontal_sum(v: __m256) -> f32 {
    let hi = _mm256_extractf128_ps(v, 1);
    let lo = _mm256_castps256_ps128(v);
    let s = _mm_add_ps(hi, lo);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0b01));
    _mm_cvtss_f32(s)
}

/// Loads eight floats from `p`.
///
/// # Safety
/// `p` must be valid for reading eight f32 values; AVX2 must be available.
#[target_feature(enable = "avx2,fma")]
unsafe fn load(p: *const f32) -> __m256 {
    // SAFETY: the caller guarantees eight readable floats; loadu needs no alignment.
    unsafe { _mm256_loadu_ps(p) }
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads below): i + 8 (or i + 16) <= n, so every load stays inside both slices.
    while i + 16 <= n {
        let d0 = unsafe { _mm256_sub_ps(load(pa.add(i)), load(pb.add(i))) };
        let d1 = unsafe { _mm256_sub_ps(load(pa.add(i + 8)), load(pb.add(i + 8))) };
        acc0 = _mm256_fmadd_ps(d0, d0, acc0);
        acc1 = _mm256_fmadd_ps(d1, d1, acc1);
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 <= n, so both loads stay inside the slices.
        let d = unsafe { _mm256_sub_ps(load(pa.add(i)), load(pb.add(i))) };
        acc0 = _mm256_fmadd_ps(d, d, acc0);
        i += 8;
    }
    let mut sum = horizontal_sum(_mm256_add_ps(acc0, acc1));
    for j in i..n {
        let d = a[j] - b[j];
        sum += d * d;
    }
    sum
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn inner_product(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads below): i + 8 (or i + 16) <= n, so every load stays inside both slices.
    while i + 16 <= n {
        acc0 = unsafe { _mm256_fmadd_ps(load(pa.add(i)), load(pb.add(i)), acc0) };
        acc1 = unsafe { _mm256_fmadd_ps(load(pa.add(i + 8)), load(pb.add(i + 8)), acc1) };
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 <= n, so both loads stay inside the slices.
        acc0 = unsafe { _mm256_fmadd_ps(load(pa.add(i)), load(pb.add(i)), acc0) };
        i += 8;
    }
    let mut sum = horizontal_sum(_mm256_add_ps(acc0, acc1));
    for j in i..n {
        sum += a[j] * b[j];
    }
    // A fused multiply-add rounds a tiny negative product to -0 where the scalar
    // kernel's multiply and add give +0: adding +0 makes every zero +0, as there.
    sum + 0.0
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn l1(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // Clearing the sign bit is |x|.
    let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads below): i + 8 (or i + 16) <= n, so every load stays inside both slices.
    while i + 16 <= n {
        let d0 = unsafe { _mm256_sub_ps(load(pa.add(i)), load(pb.add(i))) };
        let d1 = unsafe { _mm256_sub_ps(load(pa.add(i + 8)), load(pb.add(i + 8))) };
        acc0 = _mm256_add_ps(acc0, _mm256_and_ps(d0, abs_mask));
        acc1 = _mm256_add_ps(acc1, _mm256_and_ps(d1, abs_mask));
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 <= n, so both loads stay inside the slices.
        let d = unsafe { _mm256_sub_ps(load(pa.add(i)), load(pb.add(i))) };
        acc0 = _mm256_add_ps(acc0, _mm256_and_ps(d, abs_mask));
        i += 8;
    }
    let mut sum = horizontal_sum(_mm256_add_ps(acc0, acc1));
    for j in i..n {
        sum += (a[j] - b[j]).abs();
    }
    sum
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn dot_and_norms(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut dot = _mm256_setzero_ps();
    let mut na = _mm256_setzero_ps();
    let mut nb = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads below): i + 8 <= n, so every load stays inside both slices.
    while i + 8 <= n {
        let (va, vb) = unsafe { (load(pa.add(i)), load(pb.add(i))) };
        dot = _mm256_fmadd_ps(va, vb, dot);
        na = _mm256_fmadd_ps(va, va, na);
        nb = _mm256_fmadd_ps(vb, vb, nb);
        i += 8;
    }
    let (mut d, mut sa, mut sb) = (horizontal_sum(dot), horizontal_sum(na), horizontal_sum(nb));
    for j in i..n {
        d += a[j] * b[j];
        sa += a[j] * a[j];
        sb += b[j] * b[j];
    }
    (d, sa, sb)
}

// Kernels against float16 stored elements: F16C widens eight halves to eight floats a
// load, then the same arithmetic as above.

/// Loads eight halves from `p`, widened to floats.
///
/// # Safety
/// `p` must be valid for reading eight f16 values; AVX2 and F16C must be available.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn load_halves(p: *const f16) -> __m256 {
    // SAFETY: the caller guarantees eight readable halves (16 bytes); loadu needs no
    // alignment.
    unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn l2_squared_f16(a: &[f32], b: &[f16]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads below): i + 8 (or i + 16) <= n, so every load stays inside both slices.
    while i + 16 <= n {
        let d0 = unsafe { _mm256_sub_ps(load(pa.add(i)), load_halves(pb.add(i))) };
        let d1 = unsafe { _mm256_sub_ps(load(pa.add(i + 8)), load_halves(pb.add(i + 8))) };
        acc0 = _mm256_fmadd_ps(d0, d0, acc0);
        acc1 = _mm256_fmadd_ps(d1, d1, acc1);
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 <= n, so both loads stay inside the slices.
        let d = unsafe { _mm256_sub_ps(load(pa.add(i)), load_halves(pb.add(i))) };
        acc0 = _mm256_fmadd_ps(d, d, acc0);
        i += 8;
    }
    let mut sum = horizontal_sum(_mm256_add_ps(acc0, acc1));
    for j in i..n {
        let d = a[j] - b[j].to_f32();
        sum += d * d;
    }
    sum
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn inner_product_f16(a: &[f32], b: &[f16]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads below): i + 8 (or i + 16) <= n, so every load stays inside both slices.
    while i + 16 <= n {
        acc0 = unsafe { _mm256_fmadd_ps(load(pa.add(i)), load_halves(pb.add(i)), acc0) };
        acc1 = unsafe { _mm256_fmadd_ps(load(pa.add(i + 8)), load_halves(pb.add(i + 8)), acc1) };
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 <= n, so both loads stay inside the slices.
        acc0 = unsafe { _mm256_fmadd_ps(load(pa.add(i)), load_halves(pb.add(i)), acc0) };
        i += 8;
    }
    let mut sum = horizontal_sum(_mm256_add_ps(acc0, acc1));
    for j in i..n {
        sum += a[j] * b[j].to_f32();
    }
    // A fused multiply-add rounds a tiny negative product to -0 where the scalar
    // kernel's multiply and add give +0: adding +0 makes every zero +0, as there.
    sum + 0.0
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn l1_f16(a: &[f32], b: &[f16]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads below): i + 8 (or i + 16) <= n, so every load stays inside both slices.
    while i + 16 <= n {
        let d0 = unsafe { _mm256_sub_ps(load(pa.add(i)), load_halves(pb.add(i))) };
        let d1 = unsafe { _mm256_sub_ps(load(pa.add(i + 8)), load_halves(pb.add(i + 8))) };
        acc0 = _mm256_add_ps(acc0, _mm256_and_ps(d0, abs_mask));
        acc1 = _mm256_add_ps(acc1, _mm256_and_ps(d1, abs_mask));
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 <= n, so both loads stay inside the slices.
        let d = unsafe { _mm256_sub_ps(load(pa.add(i)), load_halves(pb.add(i))) };
        acc0 = _mm256_add_ps(acc0, _mm256_and_ps(d, abs_mask));
        i += 8;
    }
    let mut sum = horizontal_sum(_mm256_add_ps(acc0, acc1));
    for j in i..n {
        sum += (a[j] - b[j].to_f32()).abs();
    }
    sum
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dot_and_norms_f16(a: &[f32], b: &[f16]) -> (f32, f32, f32) {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut dot = _mm256_setzero_ps();
    let mut na = _mm256_setzero_ps();
    let mut nb = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads below): i + 8 <= n, so every load stays inside both slices.
    while i + 8 <= n {
        let (va, vb) = unsafe { (load(pa.add(i)), load_halves(pb.add(i))) };
        dot = _mm256_fmadd_ps(va, vb, dot);
        na = _mm256_fmadd_ps(va, va, na);
        nb = _mm256_fmadd_ps(vb, vb, nb);
        i += 8;
    }
    let (mut d, mut sa, mut sb) = (horizontal_sum(dot), horizontal_sum(na), horizontal_sum(nb));
    for j in i..n {
        let y = b[j].to_f32();
        d += a[j] * y;
        sa += a[j] * a[j];
        sb += y * y;
    }
    (d, sa, sb)
}

// Bit kernels: POPCNT over 64 bits (two slots) at a time.

/// The bit patterns of slots `2i` and `2i + 1` as one word.
fn word(v: &[f32], i: usize) -> u64 {
    v[2 * i].to_bits() as u64 | (v[2 * i + 1].to_bits() as u64) << 32
}

/// # Safety
/// The CPU must support POPCNT.
#[target_feature(enable = "popcnt")]
pub unsafe fn hamming(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut count = 0u32;
    for i in 0..n / 2 {
        count += (word(a, i) ^ word(b, i)).count_ones();
    }
    if n % 2 == 1 {
        count += (a[n - 1].to_bits() ^ b[n - 1].to_bits()).count_ones();
    }
    count as f32
}

/// # Safety
/// The CPU must support POPCNT.
#[target_feature(enable = "popcnt")]
pub unsafe fn bit_counts(a: &[f32], b: &[f32]) -> (u32, u32, u32) {
    let n = a.len().min(b.len());
    let (mut ab, mut aa, mut bb) = (0u32, 0u32, 0u32);
    for i in 0..n / 2 {
        let (x, y) = (word(a, i), word(b, i));
        ab += (x & y).count_ones();
        aa += x.count_ones();
        bb += y.count_ones();
    }
    if n % 2 == 1 {
        let (x, y) = (a[n - 1].to_bits(), b[n - 1].to_bits());
        ab += (x & y).count_ones();
        aa += x.count_ones();
        bb += y.count_ones();
    }
    (ab, aa, bb)
}

// Kernels against 8-bit codes (`codes`): eight bytes widened to eight floats a load; code
// k stands for `lo + step * k`.

/// Loads eight codes from `p`, as floats.
///
/// # Safety
/// `p` must be valid for reading eight bytes; AVX2 must be available.
#[target_feature(enable = "avx2,fma")]
unsafe fn load_codes(p: *const u8) -> __m256 {
    // SAFETY: the caller guarantees eight readable bytes; loadl needs no alignment.
    let bytes = unsafe { _mm_loadl_epi64(p as *const __m128i) };
    _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes))
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn l2_squared_u8(a: &[f32], codes: &[u8], lo: f32, step: f32) -> f32 {
    let n = a.len().min(codes.len());
    let (pa, pc) = (a.as_ptr(), codes.as_ptr());
    let (vlo, vstep) = (_mm256_set1_ps(lo), _mm256_set1_ps(step));
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads below): i + 8 (or i + 16) <= n, so every load stays inside both slices.
    while i + 16 <= n {
        let (c0, c1) = unsafe { (load_codes(pc.add(i)), load_codes(pc.add(i + 8))) };
        let d0 = unsafe { _mm256_sub_ps(load(pa.add(i)), _mm256_fmadd_ps(vstep, c0, vlo)) };
        let d1 = unsafe { _mm256_sub_ps(load(pa.add(i + 8)), _mm256_fmadd_ps(vstep, c1, vlo)) };
        acc0 = _mm256_fmadd_ps(d0, d0, acc0);
        acc1 = _mm256_fmadd_ps(d1, d1, acc1);
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 <= n, so both loads stay inside the slices.
        let c = unsafe { load_codes(pc.add(i)) };
        let d = unsafe { _mm256_sub_ps(load(pa.add(i)), _mm256_fmadd_ps(vstep, c, vlo)) };
        acc0 = _mm256_fmadd_ps(d, d, acc0);
        i += 8;
    }
    let mut sum = horizontal_sum(_mm256_add_ps(acc0, acc1));
    for j in i..n {
        let d = a[j] - step.mul_add(codes[j] as f32, lo);
        sum += d * d;
    }
    sum
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn l1_u8(a: &[f32], codes: &[u8], lo: f32, step: f32) -> f32 {
    let n = a.len().min(codes.len());
    let (pa, pc) = (a.as_ptr(), codes.as_ptr());
    let (vlo, vstep) = (_mm256_set1_ps(lo), _mm256_set1_ps(step));
    let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let mut acc = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads below): i + 8 <= n, so every load stays inside both slices.
    while i + 8 <= n {
        let c = unsafe { load_codes(pc.add(i)) };
        let d = unsafe { _mm256_sub_ps(load(pa.add(i)), _mm256_fmadd_ps(vstep, c, vlo)) };
        acc = _mm256_add_ps(acc, _mm256_and_ps(d, abs_mask));
        i += 8;
    }
    let mut sum = horizontal_sum(acc);
    for j in i..n {
        sum += (a[j] - step.mul_add(codes[j] as f32, lo)).abs();
    }
    sum
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn dot_u8(a: &[f32], codes: &[u8]) -> (f32, f32, f32) {
    let n = a.len().min(codes.len());
    let (pa, pc) = (a.as_ptr(), codes.as_ptr());
    let mut dot = _mm256_setzero_ps();
    let mut sum = _mm256_setzero_ps();
    let mut norm = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads below): i + 8 <= n, so every load stays inside both slices.
    while i + 8 <= n {
        let (va, c) = unsafe { (load(pa.add(i)), load_codes(pc.add(i))) };
        dot = _mm256_fmadd_ps(va, c, dot);
        sum = _mm256_add_ps(va, sum);
        norm = _mm256_fmadd_ps(va, va, norm);
        i += 8;
    }
    let (mut d, mut s, mut q) = (
        horizontal_sum(dot),
        horizontal_sum(sum),
        horizontal_sum(norm),
    );
    for j in i..n {
        d += a[j] * codes[j] as f32;
        s += a[j];
        q += a[j] * a[j];
    }
    (d, s, q)
}

/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn pq_table_sum(table: &[f32], code: &[u8]) -> f32 {
    let n = code.len().min(table.len() / 256);
    let rows = _mm256_setr_epi32(0, 256, 512, 768, 1024, 1280, 1536, 1792);
    let mut acc = _mm256_setzero_ps();
    let mut b = 0;
    while b + 8 <= n {
        // SAFETY: b + 8 <= code.len(), so the eight bytes from b are inside `code`.
        let bytes = unsafe { _mm_loadl_epi64(code.as_ptr().add(b) as *const __m128i) };
        let index = _mm256_add_epi32(_mm256_cvtepu8_epi32(bytes), rows);
        // SAFETY: each index is below 8 * 256 from row 256 b, and 256 (b + 8) <= table.len().
        let values = unsafe { _mm256_i32gather_ps::<4>(table.as_ptr().add(256 * b), index) };
        acc = _mm256_add_ps(acc, values);
        b += 8;
    }
    let mut sum = horizontal_sum(acc);
    for (k, &byte) in code.iter().enumerate().take(n).skip(b) {
        sum += table[256 * k + byte as usize];
    }
    sum
}

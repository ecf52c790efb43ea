;; SIMD (f32x4) kernels for the library's fused ops: exp, sigmoid and tanh (element-wise
;; and over strided rows), the LSTM cell's forward and backward step over a batch, a
;; row-wise softmax and its backward pass, layer normalisation forward and backward, max
;; over time and the winning-window gradient of a convolution, and the Adam update.
;;
;; Why: V8 spends about 10 ns on one Math.exp, so the LSTM's gate loop (2 M activations
;; per batch of the reference model) and the attention softmax were bound by it. Here
;; four lanes share one polynomial exp.
;;
;; Assembled by `deno task build:wasm` (lib/kernels/simd/build.ts: wabt, then Binaryen
;; -O3, which inlines the small helpers below into the loops) into kernels_wasm.ts;
;; tests/lib/kernels/simd_test.ts checks that file is up to date.
;; Every address is a byte offset into this module's memory; rows of length n are
;; processed four floats at a time, and a tail of n mod 4 one float at a time (through
;; the same vector functions on lane 0 of a splat, or scalar code).
(module
  (memory (export "memory") 1)

  ;; ---- activations ------------------------------------------------------------

  ;; x·y + z: plain f32x4 multiply and add here; the relaxed build (build.ts,
  ;; `relaxedVariant`) makes it relaxed SIMD's fused multiply-add. Inlined by Binaryen.
  (func $madd (param $x v128) (param $y v128) (param $z v128) (result v128)
    (f32x4.add (f32x4.mul (local.get $x) (local.get $y)) (local.get $z)))

  ;; The constants of $exp, as globals: V8 rebuilds a v128.const at each use inside a loop
  ;; (several instructions each), but reads a global with one load; $exp as a whole ran
  ;; twice as fast (3.7 against 7.5 ns for four lanes, in a loop of e^x over 2¹⁹ floats
  ;; on an AMD EPYC). Mutable and exported, so that Binaryen does not fold them back into
  ;; constants; nothing writes them.
  ;; the clamp: e^x stays a normal float32
  (global $exp_lo (export "exp_lo") (mut v128) (v128.const f32x4 -87 -87 -87 -87))
  (global $exp_hi (export "exp_hi") (mut v128) (v128.const f32x4 88 88 88 88))
  ;; log₂e
  (global $exp_log2e (export "exp_log2e") (mut v128)
    (v128.const f32x4 1.44269504089 1.44269504089 1.44269504089 1.44269504089))
  ;; 1.5·2²³: adding it rounds to an integer
  (global $exp_round (export "exp_round") (mut v128)
    (v128.const f32x4 12582912 12582912 12582912 12582912))
  ;; ln 2 in two parts (Cody–Waite)
  (global $exp_ln2_hi (export "exp_ln2_hi") (mut v128)
    (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))
  (global $exp_ln2_lo (export "exp_ln2_lo") (mut v128)
    (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))
  ;; 1/7! … 1/2!: the Taylor coefficients (and 1, which others use too)
  (global $exp_c7 (export "exp_c7") (mut v128)
    (v128.const f32x4 1.98412698e-4 1.98412698e-4 1.98412698e-4 1.98412698e-4))
  (global $exp_c6 (export "exp_c6") (mut v128)
    (v128.const f32x4 1.38888889e-3 1.38888889e-3 1.38888889e-3 1.38888889e-3))
  (global $exp_c5 (export "exp_c5") (mut v128)
    (v128.const f32x4 8.33333333e-3 8.33333333e-3 8.33333333e-3 8.33333333e-3))
  (global $exp_c4 (export "exp_c4") (mut v128)
    (v128.const f32x4 4.16666667e-2 4.16666667e-2 4.16666667e-2 4.16666667e-2))
  (global $exp_c3 (export "exp_c3") (mut v128)
    (v128.const f32x4 1.66666667e-1 1.66666667e-1 1.66666667e-1 1.66666667e-1))
  (global $exp_c2 (export "exp_c2") (mut v128) (v128.const f32x4 0.5 0.5 0.5 0.5))
  (global $one (export "one") (mut v128) (v128.const f32x4 1 1 1 1))
  ;; bits of 1.5·2²³ minus the exponent bias 127
  (global $exp_bias (export "exp_bias") (mut v128)
    (v128.const i32x4 0x4b3fff81 0x4b3fff81 0x4b3fff81 0x4b3fff81))

  ;; e^x lane-wise, x clamped to [-87, 88] (e^x stays a normal float32).
  ;; x = k·ln2 + r with |r| ≤ ln2/2 (Cody–Waite: ln2 split in two so k·ln2 is exact),
  ;; e^r by its degree-7 Taylor polynomial (truncation error < 6e-9 relative) evaluated
  ;; by Estrin's scheme (a short dependency chain), 2^k written into the exponent bits.
  ;; k is rounded by adding 1.5·2²³ (its low mantissa bits are then k + 2²²·3), which
  ;; is cheaper than f32x4.nearest plus a saturating conversion; pmin/pmax (plain
  ;; minps/maxps) clamp, and keep a NaN.
  (func $exp (param $x v128) (result v128)
    (local $k v128) (local $r v128) (local $r2 v128) (local $r4 v128) (local $t v128)
    (local.set $x
      (f32x4.pmin
        (f32x4.pmax (local.get $x) (global.get $exp_lo))
        (global.get $exp_hi)))
    (local.set $t
      (f32x4.add
        (f32x4.mul (local.get $x)
          (global.get $exp_log2e))
        (global.get $exp_round)))
    (local.set $k (f32x4.sub (local.get $t) (global.get $exp_round)))
    (local.set $r
      (f32x4.sub
        (f32x4.sub (local.get $x)
          (f32x4.mul (local.get $k) (global.get $exp_ln2_hi)))
        (f32x4.mul (local.get $k)
          (global.get $exp_ln2_lo))))
    (local.set $r2 (f32x4.mul (local.get $r) (local.get $r)))
    (local.set $r4 (f32x4.mul (local.get $r2) (local.get $r2)))
    ;; (1 + r + r²(1/2 + r/6)) + r⁴((1/24 + r/120) + r²(1/720 + r/5040)), each x·y + z
    ;; a $madd (the same operations in the plain build)
    (f32x4.mul
      (call $madd (local.get $r4)
        (call $madd (local.get $r2)
          (call $madd (local.get $r)
            (global.get $exp_c7)
            (global.get $exp_c6))
          (call $madd (local.get $r)
            (global.get $exp_c5)
            (global.get $exp_c4)))
        (call $madd (local.get $r2)
          (call $madd (local.get $r)
            (global.get $exp_c3)
            (global.get $exp_c2))
          (f32x4.add (global.get $one) (local.get $r))))
      (i32x4.shl
        ;; bits of t minus bits of 1.5·2²³ is k; plus the exponent bias 127
        (i32x4.sub (local.get $t) (global.get $exp_bias))
        (i32.const 23))))

  ;; The constants of $tanh (globals, as $exp's): −2, the odd Taylor coefficients
  ;; −17/315, 2/15, −1/3, the float32 sign bit, and 1/8, below which the polynomial is used
  (global $tanh_m2 (export "tanh_m2") (mut v128) (v128.const f32x4 -2 -2 -2 -2))
  (global $tanh_c7 (export "tanh_c7") (mut v128)
    (v128.const f32x4 -5.3968254e-2 -5.3968254e-2 -5.3968254e-2 -5.3968254e-2))
  (global $tanh_c5 (export "tanh_c5") (mut v128)
    (v128.const f32x4 1.33333333e-1 1.33333333e-1 1.33333333e-1 1.33333333e-1))
  (global $tanh_c3 (export "tanh_c3") (mut v128)
    (v128.const f32x4 -3.33333333e-1 -3.33333333e-1 -3.33333333e-1 -3.33333333e-1))
  (global $sign_bit (export "sign_bit") (mut v128)
    (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))
  (global $tanh_small (export "tanh_small") (mut v128) (v128.const f32x4 0.125 0.125 0.125 0.125))

  ;; 1 / (1 + e^-x)
  (func $sigmoid (param $x v128) (result v128)
    (f32x4.div (global.get $one)
      (f32x4.add (global.get $one) (call $exp (f32x4.neg (local.get $x))))))

  ;; tanh x = sign(x)·(1 − e)/(1 + e) with e = e^(−2|x|); below |x| = 1/8, where that
  ;; difference loses digits, the odd Taylor polynomial to x⁷ (error < 2e-10).
  (func $tanh (param $x v128) (result v128)
    (local $a v128) (local $e v128) (local $x2 v128) (local $s v128)
    (local.set $a (f32x4.abs (local.get $x)))
    (local.set $e (call $exp (f32x4.mul (local.get $a) (global.get $tanh_m2))))
    (local.set $x2 (f32x4.mul (local.get $x) (local.get $x)))
    ;; x(1 + x²(−1/3 + x²(2/15 − 17x²/315)))
    (local.set $s
      (f32x4.add
        (f32x4.mul (local.get $x2)
          (global.get $tanh_c7))
        (global.get $tanh_c5)))
    (local.set $s
      (f32x4.add (f32x4.mul (local.get $s) (local.get $x2))
        (global.get $tanh_c3)))
    (local.set $s
      (f32x4.mul (local.get $x)
        (f32x4.add (f32x4.mul (local.get $s) (local.get $x2)) (global.get $one))))
    (v128.bitselect
      (local.get $s)
      ;; sign bit from x, magnitude from (1 − e)/(1 + e)
      (v128.bitselect
        (local.get $x)
        (f32x4.div
          (f32x4.sub (global.get $one) (local.get $e))
          (f32x4.add (global.get $one) (local.get $e)))
        (global.get $sign_bit))
      (f32x4.lt (local.get $a) (global.get $tanh_small))))

  ;; ---- loads and stores of four lanes, or of one (a row's tail) ---------------

  (func $load (param $p i32) (param $full i32) (result v128)
    (if (result v128) (local.get $full)
      (then (v128.load (local.get $p)))
      (else (f32x4.splat (f32.load (local.get $p))))))

  (func $store (param $p i32) (param $v v128) (param $full i32)
    (if (local.get $full)
      (then (v128.store (local.get $p) (local.get $v)))
      (else (f32.store (local.get $p) (f32x4.extract_lane 0 (local.get $v))))))

  ;; ---- element-wise activations over n floats in place --------------------------

  (func (export "sigmoid") (param $p i32) (param $n i32)
    (local $end i32) (local $full i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $full (i32.le_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (call $store (local.get $p)
          (call $sigmoid (call $load (local.get $p) (local.get $full))) (local.get $full))
        (local.set $p
          (i32.add (local.get $p) (select (i32.const 16) (i32.const 4) (local.get $full))))
        (br $next))))

  (func (export "tanh") (param $p i32) (param $n i32)
    (local $end i32) (local $full i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $full (i32.le_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (call $store (local.get $p)
          (call $tanh (call $load (local.get $p) (local.get $full))) (local.get $full))
        (local.set $p
          (i32.add (local.get $p) (select (i32.const 16) (i32.const 4) (local.get $full))))
        (br $next))))

  (func (export "exp") (param $p i32) (param $n i32)
    (local $end i32) (local $full i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $full (i32.le_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (call $store (local.get $p)
          (call $exp (call $load (local.get $p) (local.get $full))) (local.get $full))
        (local.set $p
          (i32.add (local.get $p) (select (i32.const 16) (i32.const 4) (local.get $full))))
        (br $next))))

;; `rows` rows of `cols` floats, `stride` bytes apart, in place: sigmoid (fn = 0) or
  ;; tanh (fn = 1). For the gate blocks of the GRU and the simple RNN, strided by time.
  (func (export "activate_rows")
    (param $p i32) (param $rows i32) (param $cols i32) (param $stride i32) (param $fn i32)
    (local $i i32) (local $q i32) (local $end i32) (local $full i32)
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $q (local.get $p))
        (local.set $end (i32.add (local.get $p) (i32.shl (local.get $cols) (i32.const 2))))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $q) (local.get $end)))
            (local.set $full (i32.le_u (i32.add (local.get $q) (i32.const 16)) (local.get $end)))
            (call $store (local.get $q)
              (if (result v128) (local.get $fn)
                (then (call $tanh (call $load (local.get $q) (local.get $full))))
                (else (call $sigmoid (call $load (local.get $q) (local.get $full)))))
              (local.get $full))
            (local.set $q
              (i32.add (local.get $q) (select (i32.const 16) (i32.const 4) (local.get $full))))
            (br $next)))
        (local.set $p (i32.add (local.get $p) (local.get $stride)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $row))))

    ;; ---- LSTM ---------------------------------------------------------------------

  ;; One LSTM time step for a batch, gates i, f, g, o (Keras's order).
  ;; z:  pre-activations of batch row 0, blocks [i | f | g | o] of U floats each; rows
  ;;     zs bytes apart. Overwritten with the activated gates (kept for the backward step).
  ;; cp: c_{t−1} of row 0 (ignored when first ≠ 0: c_{−1} = 0); c, tc, h: c_t, tanh(c_t)
  ;;     and h_t = o·tanh(c_t) of row 0. State rows are ss bytes apart.
  (func (export "lstm_forward_step")
    (param $z i32) (param $zs i32) (param $cp i32) (param $c i32) (param $tc i32) (param $h i32)
    (param $ss i32) (param $B i32) (param $U i32) (param $first i32)
    (local $b i32) (local $j i32) (local $u4 i32) (local $full i32) (local $step i32)
    (local $zj i32) (local $vi v128) (local $vf v128) (local $vg v128) (local $vo v128)
    (local $vc v128) (local $vt v128)
    (local.set $u4 (i32.shl (local.get $U) (i32.const 2)))
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $col
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $u4)))
            (local.set $full (i32.le_u (i32.add (local.get $j) (i32.const 16)) (local.get $u4)))
            (local.set $step (select (i32.const 16) (i32.const 4) (local.get $full)))
            (local.set $zj (i32.add (local.get $z) (local.get $j)))
            (local.set $vi (call $sigmoid (call $load (local.get $zj) (local.get $full))))
            (local.set $vf (call $sigmoid
              (call $load (i32.add (local.get $zj) (local.get $u4)) (local.get $full))))
            (local.set $vg (call $tanh
              (call $load (i32.add (local.get $zj) (i32.shl (local.get $u4) (i32.const 1)))
                (local.get $full))))
            (local.set $vo (call $sigmoid
              (call $load (i32.add (local.get $zj) (i32.mul (local.get $u4) (i32.const 3)))
                (local.get $full))))
            ;; c = f·c₋ + i·g
            (local.set $vc (f32x4.mul (local.get $vi) (local.get $vg)))
            (if (i32.eqz (local.get $first))
              (then
                (local.set $vc
                  (f32x4.add
                    (f32x4.mul (local.get $vf)
                      (call $load (i32.add (local.get $cp) (local.get $j)) (local.get $full)))
                    (local.get $vc)))))
            (local.set $vt (call $tanh (local.get $vc)))
            (call $store (local.get $zj) (local.get $vi) (local.get $full))
            (call $store (i32.add (local.get $zj) (local.get $u4)) (local.get $vf) (local.get $full))
            (call $store (i32.add (local.get $zj) (i32.shl (local.get $u4) (i32.const 1)))
              (local.get $vg) (local.get $full))
            (call $store (i32.add (local.get $zj) (i32.mul (local.get $u4) (i32.const 3)))
              (local.get $vo) (local.get $full))
            (call $store (i32.add (local.get $c) (local.get $j)) (local.get $vc) (local.get $full))
            (call $store (i32.add (local.get $tc) (local.get $j)) (local.get $vt) (local.get $full))
            (call $store (i32.add (local.get $h) (local.get $j))
              (f32x4.mul (local.get $vo) (local.get $vt)) (local.get $full))
            (local.set $j (i32.add (local.get $j) (local.get $step)))
            (br $col)))
        (local.set $z (i32.add (local.get $z) (local.get $zs)))
        (local.set $cp (i32.add (local.get $cp) (local.get $ss)))
        (local.set $c (i32.add (local.get $c) (local.get $ss)))
        (local.set $tc (i32.add (local.get $tc) (local.get $ss)))
        (local.set $h (i32.add (local.get $h) (local.get $ss)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $row))))

  ;; The backward step of lstm_forward_step (backpropagation through time).
  ;; z: activated gates of row 0 (as the forward step left them), rows zs bytes apart;
  ;; dz: where the pre-activation gradients go, same layout. cp, tc: c_{t−1} (ignored when
  ;; first ≠ 0) and tanh(c_t), rows ss bytes apart. dy: ∂L/∂h_t from the layer's output
  ;; (rows ss bytes apart; ignored when hasDy = 0). dh, dc: ∂L/∂h_t and ∂L/∂c_t carried
  ;; back through time, contiguous [B, U]; dc is updated in place to ∂L/∂c_{t−1}.
  (func (export "lstm_backward_step")
    (param $z i32) (param $dz i32) (param $zs i32) (param $cp i32) (param $tc i32) (param $ss i32)
    (param $dy i32) (param $dh i32) (param $dc i32) (param $B i32) (param $U i32)
    (param $first i32) (param $hasDy i32)
    (local $b i32) (local $j i32) (local $u4 i32) (local $full i32) (local $step i32)
    (local $zj i32) (local $dzj i32)
    (local $vi v128) (local $vf v128) (local $vg v128) (local $vo v128) (local $vt v128)
    (local $vh v128) (local $vd v128) (local $vp v128)
    (local.set $u4 (i32.shl (local.get $U) (i32.const 2)))
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $col
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $u4)))
            (local.set $full (i32.le_u (i32.add (local.get $j) (i32.const 16)) (local.get $u4)))
            (local.set $step (select (i32.const 16) (i32.const 4) (local.get $full)))
            (local.set $zj (i32.add (local.get $z) (local.get $j)))
            (local.set $dzj (i32.add (local.get $dz) (local.get $j)))
            (local.set $vi (call $load (local.get $zj) (local.get $full)))
            (local.set $vf (call $load (i32.add (local.get $zj) (local.get $u4)) (local.get $full)))
            (local.set $vg (call $load (i32.add (local.get $zj) (i32.shl (local.get $u4) (i32.const 1)))
              (local.get $full)))
            (local.set $vo (call $load (i32.add (local.get $zj) (i32.mul (local.get $u4) (i32.const 3)))
              (local.get $full)))
            (local.set $vt (call $load (i32.add (local.get $tc) (local.get $j)) (local.get $full)))
            (local.set $vp (v128.const f32x4 0 0 0 0))
            (if (i32.eqz (local.get $first))
              (then (local.set $vp (call $load (i32.add (local.get $cp) (local.get $j)) (local.get $full)))))
            ;; ∂L/∂h_t
            (local.set $vh (call $load (i32.add (local.get $dh) (local.get $j)) (local.get $full)))
            (if (local.get $hasDy)
              (then
                (local.set $vh
                  (f32x4.add (local.get $vh)
                    (call $load (i32.add (local.get $dy) (local.get $j)) (local.get $full))))))
            ;; ∂L/∂c_t = dc + dh·o·(1 − tanh²c_t)
            (local.set $vd
              (f32x4.add
                (call $load (i32.add (local.get $dc) (local.get $j)) (local.get $full))
                (f32x4.mul (f32x4.mul (local.get $vh) (local.get $vo))
                  (f32x4.sub (global.get $one) (f32x4.mul (local.get $vt) (local.get $vt))))))
            ;; dz_i = dc·g·i(1 − i)
            (call $store (local.get $dzj)
              (f32x4.mul (f32x4.mul (local.get $vd) (local.get $vg))
                (f32x4.mul (local.get $vi) (f32x4.sub (global.get $one) (local.get $vi))))
              (local.get $full))
            ;; dz_f = dc·c₋·f(1 − f)
            (call $store (i32.add (local.get $dzj) (local.get $u4))
              (f32x4.mul (f32x4.mul (local.get $vd) (local.get $vp))
                (f32x4.mul (local.get $vf) (f32x4.sub (global.get $one) (local.get $vf))))
              (local.get $full))
            ;; dz_g = dc·i·(1 − g²)
            (call $store (i32.add (local.get $dzj) (i32.shl (local.get $u4) (i32.const 1)))
              (f32x4.mul (f32x4.mul (local.get $vd) (local.get $vi))
                (f32x4.sub (global.get $one) (f32x4.mul (local.get $vg) (local.get $vg))))
              (local.get $full))
            ;; dz_o = dh·tanh(c_t)·o(1 − o)
            (call $store (i32.add (local.get $dzj) (i32.mul (local.get $u4) (i32.const 3)))
              (f32x4.mul (f32x4.mul (local.get $vh) (local.get $vt))
                (f32x4.mul (local.get $vo) (f32x4.sub (global.get $one) (local.get $vo))))
              (local.get $full))
            ;; ∂L/∂c_{t−1} = ∂L/∂c_t · f
            (call $store (i32.add (local.get $dc) (local.get $j))
              (f32x4.mul (local.get $vd) (local.get $vf)) (local.get $full))
            (local.set $j (i32.add (local.get $j) (local.get $step)))
            (br $col)))
        (local.set $z (i32.add (local.get $z) (local.get $zs)))
        (local.set $dz (i32.add (local.get $dz) (local.get $zs)))
        (local.set $cp (i32.add (local.get $cp) (local.get $ss)))
        (local.set $tc (i32.add (local.get $tc) (local.get $ss)))
        (local.set $dy (i32.add (local.get $dy) (local.get $ss)))
        (local.set $dh (i32.add (local.get $dh) (local.get $u4)))
        (local.set $dc (i32.add (local.get $dc) (local.get $u4)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $row))))

;; ---- softmax --------------------------------------------------------------------
  ;; Rows run four floats at a time in the main loops (direct loads and stores), then a
  ;; scalar loop for the tail.

  ;; Softmax of each of `rows` rows of `cols` floats in place, rows `stride` bytes apart.
  ;; With causal ≠ 0, row i covers only its first i + 1 entries and the rest become 0.
  (func (export "softmax_rows")
    (param $p i32) (param $rows i32) (param $cols i32) (param $stride i32) (param $causal i32)
    (call $softmax (local.get $p) (local.get $rows) (local.get $cols) (local.get $stride)
      (local.get $causal) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))

  ;; Attention's masked softmax: softmax_rows with the key mask folded in. `bias` holds
  ;; `cols` floats added to every row before the softmax (0 for a key that may be seen,
  ;; the masked score −1e9 for padding); with `zero` ≠ 0 the entries whose bias is not 0
  ;; are then set to exactly 0 (e^(s − 1e9) is clamped at e^−87, not 0) without
  ;; renormalising. These rows are rows row0 … row0 + rows − 1 of the score matrix: with
  ;; causal ≠ 0, row row0 + i covers its first row0 + i + 1 entries.
  (func (export "softmax_rows_masked")
    (param $p i32) (param $rows i32) (param $cols i32) (param $stride i32) (param $causal i32)
    (param $row0 i32) (param $bias i32) (param $zero i32)
    (call $softmax (local.get $p) (local.get $rows) (local.get $cols) (local.get $stride)
      (local.get $causal) (local.get $row0) (i32.const 1) (local.get $bias) (local.get $zero)))

  (func $softmax
    (param $p i32) (param $rows i32) (param $cols i32) (param $stride i32) (param $causal i32)
    (param $row0 i32) (param $masked i32) (param $bias i32) (param $zero i32)
    (local $i i32) (local $n4 i32) (local $v4 i32) (local $j i32) (local $g i32)
    (local $m v128) (local $s v128) (local $e v128) (local $mx f32) (local $sum f32) (local $x f32)
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $rows)))
        ;; bytes in this row's softmax, and in its whole-vector part
        (local.set $g (i32.add (local.get $row0) (local.get $i)))
        (local.set $n4
          (i32.shl
            (select (i32.add (local.get $g) (i32.const 1)) (local.get $cols)
              (i32.and (local.get $causal) (i32.lt_u (local.get $g) (local.get $cols))))
            (i32.const 2)))
        (local.set $v4 (i32.and (local.get $n4) (i32.const -16)))
        ;; the key mask: x + bias
        (if (local.get $masked)
          (then
            (local.set $j (i32.const 0))
            (block $d (loop $l
              (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
              (v128.store (i32.add (local.get $p) (local.get $j))
                (f32x4.add (v128.load (i32.add (local.get $p) (local.get $j)))
                  (v128.load (i32.add (local.get $bias) (local.get $j)))))
              (local.set $j (i32.add (local.get $j) (i32.const 16)))
              (br $l)))
            (block $d (loop $l
              (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
              (f32.store (i32.add (local.get $p) (local.get $j))
                (f32.add (f32.load (i32.add (local.get $p) (local.get $j)))
                  (f32.load (i32.add (local.get $bias) (local.get $j)))))
              (local.set $j (i32.add (local.get $j) (i32.const 4)))
              (br $l)))))
        ;; maximum
        (local.set $m (v128.const f32x4 -inf -inf -inf -inf))
        (local.set $j (i32.const 0))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
          (local.set $m (f32x4.pmax (local.get $m) (v128.load (i32.add (local.get $p) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $l)))
        (local.set $mx
          (f32.max
            (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
            (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
          (local.set $mx (f32.max (local.get $mx) (f32.load (i32.add (local.get $p) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $l)))
        (local.set $m (f32x4.splat (local.get $mx)))
        ;; e^(x − max), stored and summed
        (local.set $s (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
          (local.set $e
            (call $exp (f32x4.sub (v128.load (i32.add (local.get $p) (local.get $j))) (local.get $m))))
          (v128.store (i32.add (local.get $p) (local.get $j)) (local.get $e))
          (local.set $s (f32x4.add (local.get $s) (local.get $e)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $l)))
        (local.set $sum
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $s)) (f32x4.extract_lane 1 (local.get $s)))
            (f32.add (f32x4.extract_lane 2 (local.get $s)) (f32x4.extract_lane 3 (local.get $s)))))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
          (local.set $x
            (f32x4.extract_lane 0
              (call $exp
                (f32x4.splat
                  (f32.sub (f32.load (i32.add (local.get $p) (local.get $j))) (local.get $mx))))))
          (f32.store (i32.add (local.get $p) (local.get $j)) (local.get $x))
          (local.set $sum (f32.add (local.get $sum) (local.get $x)))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $l)))
        ;; divide by the sum
        (local.set $x (f32.div (f32.const 1) (local.get $sum)))
        (local.set $s (f32x4.splat (local.get $x)))
        (local.set $j (i32.const 0))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
          (v128.store (i32.add (local.get $p) (local.get $j))
            (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $j))) (local.get $s)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $l)))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
          (f32.store (i32.add (local.get $p) (local.get $j))
            (f32.mul (f32.load (i32.add (local.get $p) (local.get $j))) (local.get $x)))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $l)))
        ;; padded keys exactly 0 (where the caller asks: rows that see a real key)
        (if (i32.and (local.get $masked) (local.get $zero))
          (then
            (local.set $j (i32.const 0))
            (block $d (loop $l
              (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
              (v128.store (i32.add (local.get $p) (local.get $j))
                (v128.and (v128.load (i32.add (local.get $p) (local.get $j)))
                  (f32x4.eq (v128.load (i32.add (local.get $bias) (local.get $j)))
                    (v128.const f32x4 0 0 0 0))))
              (local.set $j (i32.add (local.get $j) (i32.const 16)))
              (br $l)))
            (block $d (loop $l
              (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
              (if (f32.ne (f32.load (i32.add (local.get $bias) (local.get $j))) (f32.const 0))
                (then (f32.store (i32.add (local.get $p) (local.get $j)) (f32.const 0))))
              (local.set $j (i32.add (local.get $j) (i32.const 4)))
              (br $l)))))
        ;; masked entries (causal rows) are 0
        (memory.fill (i32.add (local.get $p) (local.get $n4)) (i32.const 0)
          (i32.sub (i32.shl (local.get $cols) (i32.const 2)) (local.get $n4)))
        (local.set $p (i32.add (local.get $p) (local.get $stride)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $row))))

  ;; The backward pass of softmax_rows: with p the softmax output and d = ∂L/∂p (both
  ;; rows of `cols` floats, `stride` bytes apart), d becomes ∂L/∂x = p ∘ (d − Σ_j d_j p_j).
  (func $softmax_backward_rows (export "softmax_backward_rows")
    (param $p i32) (param $d i32) (param $rows i32) (param $cols i32) (param $stride i32)
    (local $i i32) (local $n4 i32) (local $v4 i32) (local $j i32) (local $s v128) (local $dot f32)
    (local.set $n4 (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $v4 (i32.and (local.get $n4) (i32.const -16)))
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $s (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $j) (local.get $v4)))
          (local.set $s
            (f32x4.add (local.get $s)
              (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $j)))
                (v128.load (i32.add (local.get $d) (local.get $j))))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $l1)))
        (local.set $dot
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $s)) (f32x4.extract_lane 1 (local.get $s)))
            (f32.add (f32x4.extract_lane 2 (local.get $s)) (f32x4.extract_lane 3 (local.get $s)))))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $j) (local.get $n4)))
          (local.set $dot
            (f32.add (local.get $dot)
              (f32.mul (f32.load (i32.add (local.get $p) (local.get $j)))
                (f32.load (i32.add (local.get $d) (local.get $j))))))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $l1)))
        (local.set $s (f32x4.splat (local.get $dot)))
        (local.set $j (i32.const 0))
        (block $d2 (loop $l2
          (br_if $d2 (i32.ge_u (local.get $j) (local.get $v4)))
          (v128.store (i32.add (local.get $d) (local.get $j))
            (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $j)))
              (f32x4.sub (v128.load (i32.add (local.get $d) (local.get $j))) (local.get $s))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $l2)))
        (block $d2 (loop $l2
          (br_if $d2 (i32.ge_u (local.get $j) (local.get $n4)))
          (f32.store (i32.add (local.get $d) (local.get $j))
            (f32.mul (f32.load (i32.add (local.get $p) (local.get $j)))
              (f32.sub (f32.load (i32.add (local.get $d) (local.get $j))) (local.get $dot))))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $l2)))
        (local.set $p (i32.add (local.get $p) (local.get $stride)))
        (local.set $d (i32.add (local.get $d) (local.get $stride)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $row))))

  ;; ---- layer normalisation ------------------------------------------------------

  ;; Horizontal sum of four lanes.
  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; Each of `rows` contiguous rows of D floats at x: x̂ = (x − mean)/√(var + eps) to xh,
  ;; y = x̂·gamma + beta to y, and 1/√(var + eps) to rs (one float per row). With r ≠ 0
  ;; the rows normalised are x + r (r's rows as x's): the Transformer's "Add & Norm" in
  ;; one call, the sum written first to `sum` when sum ≠ 0 (the pre-norm block keeps it
  ;; as its residual stream), else to y (each y is then read before it is overwritten).
  ;; y may be x.
  (func (export "layer_norm_forward")
    (param $x i32) (param $y i32) (param $xh i32) (param $rs i32) (param $g i32) (param $bt i32)
    (param $rows i32) (param $D i32) (param $eps f32) (param $r i32) (param $sum i32)
    (local $i i32) (local $j i32) (local $n4 i32) (local $v4 i32) (local $acc v128) (local $t v128)
    (local $vm v128) (local $vs v128) (local $mean f32) (local $var f32) (local $s f32) (local $u f32)
    (local $p i32) (local $q i32)
    (local.set $n4 (i32.shl (local.get $D) (i32.const 2)))
    (local.set $v4 (i32.and (local.get $n4) (i32.const -16)))
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $p (local.get $x))
        ;; the residual: q = x + r (q the sum's row, or y's), then q is the row normalised
        (if (local.get $r)
          (then
            (local.set $q (select (local.get $sum) (local.get $y) (local.get $sum)))
            (local.set $j (i32.const 0))
            (block $d (loop $l
              (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
              (v128.store (i32.add (local.get $q) (local.get $j))
                (f32x4.add (v128.load (i32.add (local.get $x) (local.get $j)))
                  (v128.load (i32.add (local.get $r) (local.get $j)))))
              (local.set $j (i32.add (local.get $j) (i32.const 16)))
              (br $l)))
            (block $d (loop $l
              (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
              (f32.store (i32.add (local.get $q) (local.get $j))
                (f32.add (f32.load (i32.add (local.get $x) (local.get $j)))
                  (f32.load (i32.add (local.get $r) (local.get $j)))))
              (local.set $j (i32.add (local.get $j) (i32.const 4)))
              (br $l)))
            (local.set $r (i32.add (local.get $r) (local.get $n4)))
            (if (local.get $sum)
              (then (local.set $sum (i32.add (local.get $sum) (local.get $n4)))))
            (local.set $p (local.get $q))))
        ;; mean
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
          (local.set $acc (f32x4.add (local.get $acc) (v128.load (i32.add (local.get $p) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $l)))
        (local.set $mean (call $hsum (local.get $acc)))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
          (local.set $mean (f32.add (local.get $mean) (f32.load (i32.add (local.get $p) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $l)))
        (local.set $mean (f32.div (local.get $mean) (f32.convert_i32_u (local.get $D))))
        (local.set $vm (f32x4.splat (local.get $mean)))
        ;; variance
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
          (local.set $t (f32x4.sub (v128.load (i32.add (local.get $p) (local.get $j))) (local.get $vm)))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $t) (local.get $t))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $l)))
        (local.set $var (call $hsum (local.get $acc)))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
          (local.set $u (f32.sub (f32.load (i32.add (local.get $p) (local.get $j))) (local.get $mean)))
          (local.set $var (f32.add (local.get $var) (f32.mul (local.get $u) (local.get $u))))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $l)))
        (local.set $s
          (f32.div (f32.const 1)
            (f32.sqrt
              (f32.add (f32.div (local.get $var) (f32.convert_i32_u (local.get $D))) (local.get $eps)))))
        (f32.store (local.get $rs) (local.get $s))
        (local.set $vs (f32x4.splat (local.get $s)))
        ;; x̂ and y
        (local.set $j (i32.const 0))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
          (local.set $t
            (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $p) (local.get $j))) (local.get $vm))
              (local.get $vs)))
          (v128.store (i32.add (local.get $xh) (local.get $j)) (local.get $t))
          (v128.store (i32.add (local.get $y) (local.get $j))
            (f32x4.add (f32x4.mul (local.get $t) (v128.load (i32.add (local.get $g) (local.get $j))))
              (v128.load (i32.add (local.get $bt) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $l)))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
          (local.set $u
            (f32.mul (f32.sub (f32.load (i32.add (local.get $p) (local.get $j))) (local.get $mean))
              (local.get $s)))
          (f32.store (i32.add (local.get $xh) (local.get $j)) (local.get $u))
          (f32.store (i32.add (local.get $y) (local.get $j))
            (f32.add (f32.mul (local.get $u) (f32.load (i32.add (local.get $g) (local.get $j))))
              (f32.load (i32.add (local.get $bt) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $l)))
        (local.set $x (i32.add (local.get $x) (local.get $n4)))
        (local.set $y (i32.add (local.get $y) (local.get $n4)))
        (local.set $xh (i32.add (local.get $xh) (local.get $n4)))
        (local.set $rs (i32.add (local.get $rs) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $row))))

  ;; The backward pass of layer_norm_forward: from dy, x̂ and rs (as the forward left them)
  ;; and gamma, dx = rs·(dy·gamma − mean(dy·gamma) − x̂·mean(dy·gamma·x̂)) to dx, and
  ;; Σ dy·x̂ and Σ dy over rows added to dg and db (which the caller zeroes). With ds ≠ 0
  ;; (rows as dy's) dx also gets ds: the gradient that reached the sum of a pre-norm
  ;; block's Add & Norm through its other use, the residual stream.
  (func (export "layer_norm_backward")
    (param $dy i32) (param $xh i32) (param $rs i32) (param $g i32) (param $dx i32) (param $dg i32)
    (param $db i32) (param $rows i32) (param $D i32) (param $ds i32)
    (local $i i32) (local $j i32) (local $n4 i32) (local $v4 i32) (local $a1 v128) (local $a2 v128)
    (local $vd v128) (local $vx v128) (local $vn v128) (local $m1 f32) (local $m2 f32) (local $r f32)
    (local $ud f32) (local $ux f32) (local $un f32)
    (local.set $n4 (i32.shl (local.get $D) (i32.const 2)))
    (local.set $v4 (i32.and (local.get $n4) (i32.const -16)))
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $a1 (v128.const f32x4 0 0 0 0))
        (local.set $a2 (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
          (local.set $vd (v128.load (i32.add (local.get $dy) (local.get $j))))
          (local.set $vx (v128.load (i32.add (local.get $xh) (local.get $j))))
          (local.set $vn (f32x4.mul (local.get $vd) (v128.load (i32.add (local.get $g) (local.get $j)))))
          (local.set $a1 (f32x4.add (local.get $a1) (local.get $vn)))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $vn) (local.get $vx))))
          (v128.store (i32.add (local.get $dg) (local.get $j))
            (f32x4.add (v128.load (i32.add (local.get $dg) (local.get $j)))
              (f32x4.mul (local.get $vd) (local.get $vx))))
          (v128.store (i32.add (local.get $db) (local.get $j))
            (f32x4.add (v128.load (i32.add (local.get $db) (local.get $j))) (local.get $vd)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $l)))
        (local.set $m1 (call $hsum (local.get $a1)))
        (local.set $m2 (call $hsum (local.get $a2)))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
          (local.set $ud (f32.load (i32.add (local.get $dy) (local.get $j))))
          (local.set $ux (f32.load (i32.add (local.get $xh) (local.get $j))))
          (local.set $un (f32.mul (local.get $ud) (f32.load (i32.add (local.get $g) (local.get $j)))))
          (local.set $m1 (f32.add (local.get $m1) (local.get $un)))
          (local.set $m2 (f32.add (local.get $m2) (f32.mul (local.get $un) (local.get $ux))))
          (f32.store (i32.add (local.get $dg) (local.get $j))
            (f32.add (f32.load (i32.add (local.get $dg) (local.get $j)))
              (f32.mul (local.get $ud) (local.get $ux))))
          (f32.store (i32.add (local.get $db) (local.get $j))
            (f32.add (f32.load (i32.add (local.get $db) (local.get $j))) (local.get $ud)))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $l)))
        (local.set $m1 (f32.div (local.get $m1) (f32.convert_i32_u (local.get $D))))
        (local.set $m2 (f32.div (local.get $m2) (f32.convert_i32_u (local.get $D))))
        (local.set $r (f32.load (local.get $rs)))
        (local.set $j (i32.const 0))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
          (v128.store (i32.add (local.get $dx) (local.get $j))
            (f32x4.mul (f32x4.splat (local.get $r))
              (f32x4.sub
                (f32x4.sub
                  (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $j)))
                    (v128.load (i32.add (local.get $g) (local.get $j))))
                  (f32x4.splat (local.get $m1)))
                (f32x4.mul (v128.load (i32.add (local.get $xh) (local.get $j)))
                  (f32x4.splat (local.get $m2))))))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $l)))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
          (f32.store (i32.add (local.get $dx) (local.get $j))
            (f32.mul (local.get $r)
              (f32.sub
                (f32.sub
                  (f32.mul (f32.load (i32.add (local.get $dy) (local.get $j)))
                    (f32.load (i32.add (local.get $g) (local.get $j))))
                  (local.get $m1))
                (f32.mul (f32.load (i32.add (local.get $xh) (local.get $j))) (local.get $m2)))))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $l)))
        ;; dx += ds (the row is still in cache)
        (if (local.get $ds)
          (then
            (local.set $j (i32.const 0))
            (block $d (loop $l
              (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
              (v128.store (i32.add (local.get $dx) (local.get $j))
                (f32x4.add (v128.load (i32.add (local.get $dx) (local.get $j)))
                  (v128.load (i32.add (local.get $ds) (local.get $j)))))
              (local.set $j (i32.add (local.get $j) (i32.const 16)))
              (br $l)))
            (block $d (loop $l
              (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
              (f32.store (i32.add (local.get $dx) (local.get $j))
                (f32.add (f32.load (i32.add (local.get $dx) (local.get $j)))
                  (f32.load (i32.add (local.get $ds) (local.get $j)))))
              (local.set $j (i32.add (local.get $j) (i32.const 4)))
              (br $l)))
            (local.set $ds (i32.add (local.get $ds) (local.get $n4)))))
        (local.set $dy (i32.add (local.get $dy) (local.get $n4)))
        (local.set $xh (i32.add (local.get $xh) (local.get $n4)))
        (local.set $dx (i32.add (local.get $dx) (local.get $n4)))
        (local.set $rs (i32.add (local.get $rs) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $row))))

  ;; ---- convolution with max over time ---------------------------------------------

  ;; For each sample b and channel f of y [B·T, F] (rows of F floats), the maximum over
  ;; the first L rows of the sample, to best[b·F + f], and the (absolute) row where it
  ;; first occurs, to arg[b·F + f] (i32). A row of NaNs or −∞ leaves −∞ and row b·T.
  (func (export "max_over_time")
    (param $y i32) (param $best i32) (param $arg i32) (param $B i32) (param $T i32) (param $L i32)
    (param $F i32)
    (local $b i32) (local $f4 i32) (local $t i32) (local $row i32) (local $f4n i32) (local $v4 i32)
    (local $p i32) (local $vb v128) (local $vi v128) (local $v v128) (local $mask v128)
    (local $sb f32) (local $si i32) (local $s f32) (local $o i32)
    (local.set $f4n (i32.shl (local.get $F) (i32.const 2)))
    (local.set $v4 (i32.and (local.get $f4n) (i32.const -16)))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $row (i32.mul (local.get $b) (local.get $T)))
      (local.set $o (i32.mul (local.get $b) (local.get $f4n)))
      ;; four channels at a time
      (local.set $f4 (i32.const 0))
      (block $fd (loop $fl
        (br_if $fd (i32.ge_u (local.get $f4) (local.get $v4)))
        (local.set $vb (v128.const f32x4 -inf -inf -inf -inf))
        (local.set $vi (i32x4.splat (local.get $row)))
        (local.set $p
          (i32.add (local.get $y)
            (i32.add (i32.mul (local.get $row) (local.get $f4n)) (local.get $f4))))
        (local.set $t (i32.const 0))
        (block $td (loop $tl
          (br_if $td (i32.ge_u (local.get $t) (local.get $L)))
          (local.set $v (v128.load (local.get $p)))
          (local.set $mask (f32x4.gt (local.get $v) (local.get $vb)))
          (local.set $vb (v128.bitselect (local.get $v) (local.get $vb) (local.get $mask)))
          (local.set $vi
            (v128.bitselect (i32x4.splat (i32.add (local.get $row) (local.get $t))) (local.get $vi)
              (local.get $mask)))
          (local.set $p (i32.add (local.get $p) (local.get $f4n)))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (br $tl)))
        (v128.store (i32.add (local.get $best) (i32.add (local.get $o) (local.get $f4))) (local.get $vb))
        (v128.store (i32.add (local.get $arg) (i32.add (local.get $o) (local.get $f4))) (local.get $vi))
        (local.set $f4 (i32.add (local.get $f4) (i32.const 16)))
        (br $fl)))
      ;; the remaining channels one at a time
      (block $fd (loop $fl
        (br_if $fd (i32.ge_u (local.get $f4) (local.get $f4n)))
        (local.set $sb (f32.const -inf))
        (local.set $si (local.get $row))
        (local.set $p
          (i32.add (local.get $y)
            (i32.add (i32.mul (local.get $row) (local.get $f4n)) (local.get $f4))))
        (local.set $t (i32.const 0))
        (block $td (loop $tl
          (br_if $td (i32.ge_u (local.get $t) (local.get $L)))
          (local.set $s (f32.load (local.get $p)))
          (if (f32.gt (local.get $s) (local.get $sb))
            (then
              (local.set $sb (local.get $s))
              (local.set $si (i32.add (local.get $row) (local.get $t)))))
          (local.set $p (i32.add (local.get $p) (local.get $f4n)))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (br $tl)))
        (f32.store (i32.add (local.get $best) (i32.add (local.get $o) (local.get $f4))) (local.get $sb))
        (i32.store (i32.add (local.get $arg) (i32.add (local.get $o) (local.get $f4))) (local.get $si))
        (local.set $f4 (i32.add (local.get $f4) (i32.const 4)))
        (br $fl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; The backward pass of a convolution followed by max over time, where only the
  ;; winning window of each (sample, channel) gets a gradient. For each i = b·F + f with
  ;; g[i] ≠ 0 and window start row r = arg[i]: the k·E inputs from row r on (x, contiguous
  ;; rows of E floats) and the channel's k·E weights (wt, [F, k·E]) are scaled by g[i] and
  ;; added to dwt[f] and to dx from row r on. ke = k·E.
  (func (export "conv_max_backward")
    (param $x i32) (param $wt i32) (param $dx i32) (param $dwt i32) (param $g i32) (param $arg i32)
    (param $n i32) (param $F i32) (param $ke i32) (param $E i32)
    (local $i i32) (local $j i32) (local $ke4 i32) (local $v4 i32) (local $gv f32) (local $vg v128)
    (local $xo i32) (local $dxo i32) (local $wo i32) (local $dwo i32) (local $r i32)
    (local.set $ke4 (i32.shl (local.get $ke) (i32.const 2)))
    (local.set $v4 (i32.and (local.get $ke4) (i32.const -16)))
    (block $id (loop $il
      (br_if $id (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $gv (f32.load (i32.add (local.get $g) (i32.shl (local.get $i) (i32.const 2)))))
      (if (f32.ne (local.get $gv) (f32.const 0))
        (then
          (local.set $vg (f32x4.splat (local.get $gv)))
          (local.set $r
            (i32.shl
              (i32.mul
                (i32.load (i32.add (local.get $arg) (i32.shl (local.get $i) (i32.const 2))))
                (local.get $E))
              (i32.const 2)))
          (local.set $xo (i32.add (local.get $x) (local.get $r)))
          (local.set $dxo (i32.add (local.get $dx) (local.get $r)))
          (local.set $r (i32.mul (i32.rem_u (local.get $i) (local.get $F)) (local.get $ke4)))
          (local.set $wo (i32.add (local.get $wt) (local.get $r)))
          (local.set $dwo (i32.add (local.get $dwt) (local.get $r)))
          (local.set $j (i32.const 0))
          (block $jd (loop $jl
            (br_if $jd (i32.ge_u (local.get $j) (local.get $v4)))
            (v128.store (i32.add (local.get $dwo) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $dwo) (local.get $j)))
                (f32x4.mul (local.get $vg) (v128.load (i32.add (local.get $xo) (local.get $j))))))
            (v128.store (i32.add (local.get $dxo) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $dxo) (local.get $j)))
                (f32x4.mul (local.get $vg) (v128.load (i32.add (local.get $wo) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $jl)))
          (block $jd (loop $jl
            (br_if $jd (i32.ge_u (local.get $j) (local.get $ke4)))
            (f32.store (i32.add (local.get $dwo) (local.get $j))
              (f32.add (f32.load (i32.add (local.get $dwo) (local.get $j)))
                (f32.mul (local.get $gv) (f32.load (i32.add (local.get $xo) (local.get $j))))))
            (f32.store (i32.add (local.get $dxo) (local.get $j))
              (f32.add (f32.load (i32.add (local.get $dxo) (local.get $j)))
                (f32.mul (local.get $gv) (f32.load (i32.add (local.get $wo) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $jl)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $il))))

  ;; ---- dense layer epilogues ------------------------------------------------------

  ;; y ← max(y, 0) over n floats in place, on the bits: a set sign bit clears the word
  ;; (negative values and −0 become +0), as dense.ts's reluInPlace.
  (func (export "relu") (param $p i32) (param $n i32)
    (local $j i32) (local $n4 i32) (local $v4 i32) (local $x v128) (local $b i32)
    (local.set $n4 (i32.shl (local.get $n) (i32.const 2)))
    (local.set $v4 (i32.and (local.get $n4) (i32.const -16)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
      (local.set $x (v128.load (i32.add (local.get $p) (local.get $j))))
      (v128.store (i32.add (local.get $p) (local.get $j))
        (v128.andnot (local.get $x) (i32x4.shr_s (local.get $x) (i32.const 31))))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $l)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
      (local.set $b (i32.load (i32.add (local.get $p) (local.get $j))))
      (i32.store (i32.add (local.get $p) (local.get $j))
        (i32.and (local.get $b) (i32.xor (i32.shr_s (local.get $b) (i32.const 31)) (i32.const -1))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $l))))

  ;; A dense layer's backward epilogue over `rows` rows of `n` floats: with relu ≠ 0,
  ;; dz = dy · step(y) written to dz; db[j] = Σ_rows dz[r, j] (dz = dy when relu = 0, and
  ;; dz is then not written). The sums run row by row in float32, as dense.ts's loop.
  (func (export "dense_backward_epilogue")
    (param $dy i32) (param $y i32) (param $dz i32) (param $db i32) (param $rows i32)
    (param $n i32) (param $relu i32)
    (local $r i32) (local $j i32) (local $n4 i32) (local $v4 i32) (local $o i32) (local $v v128)
    (local $s f32)
    (local.set $n4 (i32.shl (local.get $n) (i32.const 2)))
    (local.set $v4 (i32.and (local.get $n4) (i32.const -16)))
    (memory.fill (local.get $db) (i32.const 0) (local.get $n4))
    (block $rows_done (loop $row
      (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $o (i32.mul (local.get $r) (local.get $n4)))
      (local.set $j (i32.const 0))
      (block $d (loop $l
        (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
        (local.set $v (v128.load (i32.add (local.get $dy) (i32.add (local.get $o) (local.get $j)))))
        (if (local.get $relu)
          (then
            ;; dy · step(y), step as 1.0 or 0.0 (a NaN in dy stays NaN, as tfjs's product)
            (local.set $v
              (f32x4.mul (local.get $v)
                (v128.and (global.get $one)
                  (f32x4.gt (v128.load (i32.add (local.get $y) (i32.add (local.get $o) (local.get $j))))
                    (v128.const f32x4 0 0 0 0)))))
            (v128.store (i32.add (local.get $dz) (i32.add (local.get $o) (local.get $j))) (local.get $v))))
        (v128.store (i32.add (local.get $db) (local.get $j))
          (f32x4.add (v128.load (i32.add (local.get $db) (local.get $j))) (local.get $v)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l)))
      (block $d (loop $l
        (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
        (local.set $s (f32.load (i32.add (local.get $dy) (i32.add (local.get $o) (local.get $j)))))
        (if (local.get $relu)
          (then
            (if (i32.eqz (f32.gt (f32.load (i32.add (local.get $y) (i32.add (local.get $o) (local.get $j))))
                  (f32.const 0)))
              (then (local.set $s (f32.mul (local.get $s) (f32.const 0)))))
            (f32.store (i32.add (local.get $dz) (i32.add (local.get $o) (local.get $j))) (local.get $s))))
        (f32.store (i32.add (local.get $db) (local.get $j))
          (f32.add (f32.load (i32.add (local.get $db) (local.get $j))) (local.get $s)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $l)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row))))

  ;; ---- Adam -----------------------------------------------------------------------

  ;; One Adam step over n weights, in place: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g²,
  ;; w ← w − lr·(m·c1)/(√(v·c2) + ε), with c1 = 1/(1 − β₁ᵗ), c2 = 1/(1 − β₂ᵗ) (tfjs's).
  (func (export "adam_update")
    (param $g i32) (param $m i32) (param $v i32) (param $w i32) (param $n i32)
    (param $b1 f32) (param $b2 f32) (param $lr f32) (param $c1 f32) (param $c2 f32) (param $eps f32)
    (local $j i32) (local $n4 i32) (local $v4 i32)
    (local $vb1 v128) (local $vb2 v128) (local $va1 v128) (local $va2 v128) (local $vlr v128)
    (local $vc1 v128) (local $vc2 v128) (local $veps v128) (local $vg v128) (local $vm v128)
    (local $vv v128) (local $sg f32) (local $sm f32) (local $sv f32)
    (local.set $n4 (i32.shl (local.get $n) (i32.const 2)))
    (local.set $v4 (i32.and (local.get $n4) (i32.const -16)))
    (local.set $vb1 (f32x4.splat (local.get $b1)))
    (local.set $vb2 (f32x4.splat (local.get $b2)))
    (local.set $va1 (f32x4.splat (f32.sub (f32.const 1) (local.get $b1))))
    (local.set $va2 (f32x4.splat (f32.sub (f32.const 1) (local.get $b2))))
    (local.set $vlr (f32x4.splat (local.get $lr)))
    (local.set $vc1 (f32x4.splat (local.get $c1)))
    (local.set $vc2 (f32x4.splat (local.get $c2)))
    (local.set $veps (f32x4.splat (local.get $eps)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $j) (local.get $v4)))
      (local.set $vg (v128.load (i32.add (local.get $g) (local.get $j))))
      (local.set $vm
        (f32x4.add (f32x4.mul (local.get $vb1) (v128.load (i32.add (local.get $m) (local.get $j))))
          (f32x4.mul (local.get $va1) (local.get $vg))))
      (local.set $vv
        (f32x4.add (f32x4.mul (local.get $vb2) (v128.load (i32.add (local.get $v) (local.get $j))))
          (f32x4.mul (f32x4.mul (local.get $va2) (local.get $vg)) (local.get $vg))))
      (v128.store (i32.add (local.get $m) (local.get $j)) (local.get $vm))
      (v128.store (i32.add (local.get $v) (local.get $j)) (local.get $vv))
      (v128.store (i32.add (local.get $w) (local.get $j))
        (f32x4.sub (v128.load (i32.add (local.get $w) (local.get $j)))
          (f32x4.div (f32x4.mul (local.get $vlr) (f32x4.mul (local.get $vm) (local.get $vc1)))
            (f32x4.add (f32x4.sqrt (f32x4.mul (local.get $vv) (local.get $vc2))) (local.get $veps)))))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $l)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $j) (local.get $n4)))
      (local.set $sg (f32.load (i32.add (local.get $g) (local.get $j))))
      (local.set $sm
        (f32.add (f32.mul (local.get $b1) (f32.load (i32.add (local.get $m) (local.get $j))))
          (f32.mul (f32.sub (f32.const 1) (local.get $b1)) (local.get $sg))))
      (local.set $sv
        (f32.add (f32.mul (local.get $b2) (f32.load (i32.add (local.get $v) (local.get $j))))
          (f32.mul (f32.mul (f32.sub (f32.const 1) (local.get $b2)) (local.get $sg)) (local.get $sg))))
      (f32.store (i32.add (local.get $m) (local.get $j)) (local.get $sm))
      (f32.store (i32.add (local.get $v) (local.get $j)) (local.get $sv))
      (f32.store (i32.add (local.get $w) (local.get $j))
        (f32.sub (f32.load (i32.add (local.get $w) (local.get $j)))
          (f32.div (f32.mul (local.get $lr) (f32.mul (local.get $sm) (local.get $c1)))
            (f32.add (f32.sqrt (f32.mul (local.get $sv) (local.get $c2))) (local.get $eps)))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $l))))

  ;; ---- small matrix products (attention heads) ------------------------------------
  ;; The attention's per-head products (64 × 64 × 16 for the reference Transformer) are
  ;; too small for a packed GEMM: copying and packing the operands cost more than the
  ;; arithmetic. These run in place on this module's memory, where the attention keeps
  ;; its queries, keys, values, weights and gradients.

  ;; C = alpha · A · B (acc = 0) or C += alpha · A · B (acc ≠ 0): A is m × k, B is k × n,
  ;; C is m × n, all row-major with row strides lda, ldb, ldc in bytes. Blocks of four rows
  ;; and eight columns first (eight f32x4 accumulators: each B load serves four rows, each
  ;; A element eight columns), then the rest of each row sixteen, four and one column at
  ;; a time. Every element of C is the same float32 sum over k in order, whichever path.
  (func $mm (export "mm")
    (param $a i32) (param $lda i32) (param $b i32) (param $ldb i32) (param $c i32)
    (param $ldc i32) (param $m i32) (param $n i32) (param $k i32) (param $alpha f32)
    (param $acc i32)
    (local $i i32) (local $j i32) (local $nb i32) (local $r i32) (local $al v128)
    (local.set $nb (i32.shl (local.get $n) (i32.const 2)))
    (local.set $al (f32x4.splat (local.get $alpha)))
    (block $blocks_done
      (loop $block
        (br_if $blocks_done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $m)))
        (local.set $j (i32.const 0))
        (block $d (loop $l
          (br_if $d (i32.gt_u (i32.add (local.get $j) (i32.const 32)) (local.get $nb)))
          (call $mm_tile4x8
            (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $lda))) (local.get $lda)
            (i32.add (local.get $b) (local.get $j)) (local.get $ldb)
            (i32.add (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc))) (local.get $j))
            (local.get $ldc) (local.get $k) (local.get $al) (local.get $acc))
          (local.set $j (i32.add (local.get $j) (i32.const 32)))
          (br $l)))
        ;; the block's last columns, row by row
        (if (i32.lt_u (local.get $j) (local.get $nb))
          (then
            (local.set $r (i32.const 0))
            (block $rd (loop $rl
              (br_if $rd (i32.ge_u (local.get $r) (i32.const 4)))
              (call $mm_row
                (i32.add (local.get $a) (i32.mul (i32.add (local.get $i) (local.get $r)) (local.get $lda)))
                (i32.add (local.get $c) (i32.mul (i32.add (local.get $i) (local.get $r)) (local.get $ldc)))
                (local.get $b) (local.get $ldb) (local.get $j) (local.get $nb) (local.get $k)
                (local.get $alpha) (local.get $acc))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br $rl)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $block)))
    ;; the last rows (m mod 4)
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $m)))
        (call $mm_row
          (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $lda)))
          (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc)))
          (local.get $b) (local.get $ldb) (i32.const 0) (local.get $nb) (local.get $k)
          (local.get $alpha) (local.get $acc))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $row))))

  ;; Four rows × eight columns of C (see mm): A's rows at a, a + lda, …; B's at b, b + ldb, …
  (func $mm_tile4x8
    (param $a i32) (param $lda i32) (param $b i32) (param $ldb i32) (param $c i32)
    (param $ldc i32) (param $k i32) (param $al v128) (param $acc i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $kk i32) (local $bp i32) (local $bp2 i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $a1 (i32.add (local.get $a) (local.get $lda)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $lda)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $lda)))
    (local.set $bp (local.get $b))
    (local.set $kk (i32.const 0))
    ;; two steps of k per iteration while two remain; A's rows advance by 4 bytes a step
    (block $dk (loop $lk
      (br_if $dk (i32.gt_u (i32.add (local.get $kk) (i32.const 2)) (local.get $k)))
      (local.set $bp2 (i32.add (local.get $bp) (local.get $ldb)))
      (local.set $b0 (v128.load (local.get $bp)))
      (local.set $b1 (v128.load offset=16 (local.get $bp)))
      (local.set $x (v128.load32_splat (local.get $a)))
      (local.set $c00 (call $madd (local.get $x) (local.get $b0) (local.get $c00)))
      (local.set $c01 (call $madd (local.get $x) (local.get $b1) (local.get $c01)))
      (local.set $x (v128.load32_splat (local.get $a1)))
      (local.set $c10 (call $madd (local.get $x) (local.get $b0) (local.get $c10)))
      (local.set $c11 (call $madd (local.get $x) (local.get $b1) (local.get $c11)))
      (local.set $x (v128.load32_splat (local.get $a2)))
      (local.set $c20 (call $madd (local.get $x) (local.get $b0) (local.get $c20)))
      (local.set $c21 (call $madd (local.get $x) (local.get $b1) (local.get $c21)))
      (local.set $x (v128.load32_splat (local.get $a3)))
      (local.set $c30 (call $madd (local.get $x) (local.get $b0) (local.get $c30)))
      (local.set $c31 (call $madd (local.get $x) (local.get $b1) (local.get $c31)))
      (local.set $b0 (v128.load (local.get $bp2)))
      (local.set $b1 (v128.load offset=16 (local.get $bp2)))
      (local.set $x (v128.load32_splat offset=4 (local.get $a)))
      (local.set $c00 (call $madd (local.get $x) (local.get $b0) (local.get $c00)))
      (local.set $c01 (call $madd (local.get $x) (local.get $b1) (local.get $c01)))
      (local.set $x (v128.load32_splat offset=4 (local.get $a1)))
      (local.set $c10 (call $madd (local.get $x) (local.get $b0) (local.get $c10)))
      (local.set $c11 (call $madd (local.get $x) (local.get $b1) (local.get $c11)))
      (local.set $x (v128.load32_splat offset=4 (local.get $a2)))
      (local.set $c20 (call $madd (local.get $x) (local.get $b0) (local.get $c20)))
      (local.set $c21 (call $madd (local.get $x) (local.get $b1) (local.get $c21)))
      (local.set $x (v128.load32_splat offset=4 (local.get $a3)))
      (local.set $c30 (call $madd (local.get $x) (local.get $b0) (local.get $c30)))
      (local.set $c31 (call $madd (local.get $x) (local.get $b1) (local.get $c31)))
      (local.set $a (i32.add (local.get $a) (i32.const 8)))
      (local.set $a1 (i32.add (local.get $a1) (i32.const 8)))
      (local.set $a2 (i32.add (local.get $a2) (i32.const 8)))
      (local.set $a3 (i32.add (local.get $a3) (i32.const 8)))
      (local.set $bp (i32.add (local.get $bp2) (local.get $ldb)))
      (local.set $kk (i32.add (local.get $kk) (i32.const 2)))
      (br $lk)))
    ;; the last step when k is odd
    (if (i32.lt_u (local.get $kk) (local.get $k)) (then
      (local.set $b0 (v128.load (local.get $bp)))
      (local.set $b1 (v128.load offset=16 (local.get $bp)))
      (local.set $x (v128.load32_splat (local.get $a)))
      (local.set $c00 (call $madd (local.get $x) (local.get $b0) (local.get $c00)))
      (local.set $c01 (call $madd (local.get $x) (local.get $b1) (local.get $c01)))
      (local.set $x (v128.load32_splat (local.get $a1)))
      (local.set $c10 (call $madd (local.get $x) (local.get $b0) (local.get $c10)))
      (local.set $c11 (call $madd (local.get $x) (local.get $b1) (local.get $c11)))
      (local.set $x (v128.load32_splat (local.get $a2)))
      (local.set $c20 (call $madd (local.get $x) (local.get $b0) (local.get $c20)))
      (local.set $c21 (call $madd (local.get $x) (local.get $b1) (local.get $c21)))
      (local.set $x (v128.load32_splat (local.get $a3)))
      (local.set $c30 (call $madd (local.get $x) (local.get $b0) (local.get $c30)))
      (local.set $c31 (call $madd (local.get $x) (local.get $b1) (local.get $c31)))
    ))
    (call $mm_store2 (local.get $c) (local.get $c00) (local.get $c01) (local.get $al) (local.get $acc))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $mm_store2 (local.get $c) (local.get $c10) (local.get $c11) (local.get $al) (local.get $acc))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $mm_store2 (local.get $c) (local.get $c20) (local.get $c21) (local.get $al) (local.get $acc))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $mm_store2 (local.get $c) (local.get $c30) (local.get $c31) (local.get $al) (local.get $acc)))

  ;; Eight floats of C at p: alpha · (s0, s1), plus what is there when acc ≠ 0.
  (func $mm_store2 (param $p i32) (param $s0 v128) (param $s1 v128) (param $al v128) (param $acc i32)
    (local.set $s0 (f32x4.mul (local.get $s0) (local.get $al)))
    (local.set $s1 (f32x4.mul (local.get $s1) (local.get $al)))
    (if (local.get $acc)
      (then
        (local.set $s0 (f32x4.add (local.get $s0) (v128.load (local.get $p))))
        (local.set $s1 (f32x4.add (local.get $s1) (v128.load offset=16 (local.get $p))))))
    (v128.store (local.get $p) (local.get $s0))
    (v128.store offset=16 (local.get $p) (local.get $s1)))

  ;; One row of C (see mm) from byte column j0 to nb: A's row at ar, C's at cr; sixteen
  ;; columns at a time (four f32x4 accumulators over k), then four, then one.
  (func $mm_row
    (param $ar i32) (param $cr i32) (param $b i32) (param $ldb i32) (param $j0 i32)
    (param $nb i32) (param $k i32) (param $alpha f32) (param $acc i32)
    (local $j i32) (local $kk i32) (local $bp i32)
    (local $x v128) (local $al v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $t f32)
    (local.set $al (f32x4.splat (local.get $alpha)))
    (local.set $j (local.get $j0))
    ;; sixteen columns at a time
    (block $d16 (loop $l16
      (br_if $d16 (i32.gt_u (i32.add (local.get $j) (i32.const 64)) (local.get $nb)))
      (local.set $s0 (v128.const f32x4 0 0 0 0))
      (local.set $s1 (v128.const f32x4 0 0 0 0))
      (local.set $s2 (v128.const f32x4 0 0 0 0))
      (local.set $s3 (v128.const f32x4 0 0 0 0))
      (local.set $bp (i32.add (local.get $b) (local.get $j)))
      (local.set $kk (i32.const 0))
      (block $dk (loop $lk
        (br_if $dk (i32.ge_u (local.get $kk) (local.get $k)))
        (local.set $x
          (v128.load32_splat (i32.add (local.get $ar) (i32.shl (local.get $kk) (i32.const 2)))))
        (local.set $s0 (call $madd (local.get $x) (v128.load (local.get $bp)) (local.get $s0)))
        (local.set $s1 (call $madd (local.get $x) (v128.load offset=16 (local.get $bp)) (local.get $s1)))
        (local.set $s2 (call $madd (local.get $x) (v128.load offset=32 (local.get $bp)) (local.get $s2)))
        (local.set $s3 (call $madd (local.get $x) (v128.load offset=48 (local.get $bp)) (local.get $s3)))
        (local.set $bp (i32.add (local.get $bp) (local.get $ldb)))
        (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
        (br $lk)))
      (local.set $bp (i32.add (local.get $cr) (local.get $j)))
      (call $mm_store2 (local.get $bp) (local.get $s0) (local.get $s1) (local.get $al) (local.get $acc))
      (call $mm_store2 (i32.add (local.get $bp) (i32.const 32)) (local.get $s2) (local.get $s3)
        (local.get $al) (local.get $acc))
      (local.set $j (i32.add (local.get $j) (i32.const 64)))
      (br $l16)))
    ;; four columns at a time
    (block $d4 (loop $l4
      (br_if $d4 (i32.gt_u (i32.add (local.get $j) (i32.const 16)) (local.get $nb)))
      (local.set $s0 (v128.const f32x4 0 0 0 0))
      (local.set $bp (i32.add (local.get $b) (local.get $j)))
      (local.set $kk (i32.const 0))
      (block $dk (loop $lk
        (br_if $dk (i32.ge_u (local.get $kk) (local.get $k)))
        (local.set $s0 (call $madd
          (v128.load32_splat (i32.add (local.get $ar) (i32.shl (local.get $kk) (i32.const 2))))
          (v128.load (local.get $bp)) (local.get $s0)))
        (local.set $bp (i32.add (local.get $bp) (local.get $ldb)))
        (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
        (br $lk)))
      (local.set $bp (i32.add (local.get $cr) (local.get $j)))
      (local.set $s0 (f32x4.mul (local.get $s0) (local.get $al)))
      (if (local.get $acc)
        (then (local.set $s0 (f32x4.add (local.get $s0) (v128.load (local.get $bp))))))
      (v128.store (local.get $bp) (local.get $s0))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $l4)))
    ;; one column at a time
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_u (local.get $j) (local.get $nb)))
      (local.set $t (f32.const 0))
      (local.set $bp (i32.add (local.get $b) (local.get $j)))
      (local.set $kk (i32.const 0))
      (block $dk (loop $lk
        (br_if $dk (i32.ge_u (local.get $kk) (local.get $k)))
        (local.set $t (f32.add (local.get $t)
          (f32.mul
            (f32.load (i32.add (local.get $ar) (i32.shl (local.get $kk) (i32.const 2))))
            (f32.load (local.get $bp)))))
        (local.set $bp (i32.add (local.get $bp) (local.get $ldb)))
        (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
        (br $lk)))
      (local.set $bp (i32.add (local.get $cr) (local.get $j)))
      (local.set $t (f32.mul (local.get $t) (local.get $alpha)))
      (if (local.get $acc)
        (then (local.set $t (f32.add (local.get $t) (f32.load (local.get $bp))))))
      (f32.store (local.get $bp) (local.get $t))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $l1))))

  ;; dst = srcᵀ: src is rows × cols with row stride lds bytes, dst cols × rows with ldd.
  (func $transpose (export "transpose")
    (param $src i32) (param $lds i32) (param $dst i32) (param $ldd i32) (param $rows i32)
    (param $cols i32)
    (local $i i32) (local $j i32) (local $sp i32) (local $dp i32)
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $sp (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $lds))))
        (local.set $dp (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $j (i32.const 0))
        (block $d (loop $l
          (br_if $d (i32.ge_u (local.get $j) (local.get $cols)))
          (f32.store (local.get $dp) (f32.load (local.get $sp)))
          (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
          (local.set $dp (i32.add (local.get $dp) (local.get $ldd)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $l)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $row))))

  ;; ---- attention, all heads of a range of sequences --------------------------------
  ;; The per-head loops of the fused attention (lib/layers/multi_head_attention.ts), for
  ;; sequences b0 … b1 − 1: one call instead of a few thousand, and a range per thread
  ;; (lib/kernels/simd/simd_threads.ts splits the sequences across threads). `qkv` is
  ;; [B·T, 3D] (queries | keys | values, heads side by side, hd = D / heads each), `y`
  ;; [B·T, D], `p` the weights [B, heads, T, T]; all row-major floats, addresses in bytes.

  ;; Forward: P = softmax(scale · Q·Kᵀ) per head (causal ≠ 0: row i sees keys ≤ i), then
  ;; Y = P·V. `kt` is scratch for one head's Kᵀ (hd × T floats, one per thread). With
  ;; starts ≠ 0, the key mask: starts[b] (int32) is −1 where sequence b has no padded key,
  ;; else the first row whose padded keys become exactly 0 (rows before it see only
  ;; padding and keep the softmax of the masked scores); `bias` [B, T] is added to the
  ;; scores (0 for a token, the masked score for padding), as softmax_rows_masked does.
  (func (export "attention_forward")
    (param $qkv i32) (param $y i32) (param $p i32) (param $kt i32) (param $T i32)
    (param $D i32) (param $heads i32) (param $scale f32) (param $causal i32) (param $b0 i32)
    (param $b1 i32) (param $starts i32) (param $bias i32)
    (local $b i32) (local $h i32) (local $hd i32) (local $T4 i32) (local $L4 i32)
    (local $D4 i32) (local $q i32) (local $ph i32) (local $s i32) (local $bb i32)
    (local.set $hd (i32.div_u (local.get $D) (local.get $heads)))
    (local.set $T4 (i32.shl (local.get $T) (i32.const 2)))
    (local.set $D4 (i32.shl (local.get $D) (i32.const 2)))
    (local.set $L4 (i32.mul (local.get $D4) (i32.const 3)))
    (local.set $b (local.get $b0))
    (block $seqs_done
      (loop $seq
        (br_if $seqs_done (i32.ge_u (local.get $b) (local.get $b1)))
        (local.set $s (i32.const -1))
        (if (local.get $starts)
          (then
            (local.set $s
              (i32.load (i32.add (local.get $starts) (i32.shl (local.get $b) (i32.const 2)))))))
        (local.set $bb (i32.add (local.get $bias) (i32.mul (local.get $b) (local.get $T4))))
        (local.set $h (i32.const 0))
        (block $heads_done
          (loop $head
            (br_if $heads_done (i32.ge_u (local.get $h) (local.get $heads)))
            ;; Q[b, :, h] (row stride 3D); K at + D, V at + 2D
            (local.set $q
              (i32.add (local.get $qkv)
                (i32.add (i32.mul (i32.mul (local.get $b) (local.get $T)) (local.get $L4))
                  (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2)))))
            (local.set $ph
              (i32.add (local.get $p)
                (i32.mul
                  (i32.mul (i32.add (i32.mul (local.get $b) (local.get $heads)) (local.get $h))
                    (local.get $T))
                  (local.get $T4))))
            ;; S = scale · Q · Kᵀ
            (call $transpose (i32.add (local.get $q) (local.get $D4)) (local.get $L4)
              (local.get $kt) (local.get $T4) (local.get $T) (local.get $hd))
            (call $mm (local.get $q) (local.get $L4) (local.get $kt) (local.get $T4)
              (local.get $ph) (local.get $T4) (local.get $T) (local.get $T) (local.get $hd)
              (local.get $scale) (i32.const 0))
            (if (i32.lt_s (local.get $s) (i32.const 0))
              (then
                (call $softmax (local.get $ph) (local.get $T) (local.get $T) (local.get $T4)
                  (local.get $causal) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
              (else
                (if (i32.gt_s (local.get $s) (i32.const 0))
                  (then
                    (call $softmax (local.get $ph) (local.get $s) (local.get $T)
                      (local.get $T4) (local.get $causal) (i32.const 0) (i32.const 1)
                      (local.get $bb) (i32.const 0))))
                (if (i32.lt_s (local.get $s) (local.get $T))
                  (then
                    (call $softmax
                      (i32.add (local.get $ph) (i32.mul (local.get $s) (local.get $T4)))
                      (i32.sub (local.get $T) (local.get $s)) (local.get $T) (local.get $T4)
                      (local.get $causal) (local.get $s) (i32.const 1) (local.get $bb)
                      (i32.const 1))))))
            ;; Y[b, :, h] = P · V
            (call $mm (local.get $ph) (local.get $T4)
              (i32.add (local.get $q) (i32.shl (local.get $D4) (i32.const 1))) (local.get $L4)
              (i32.add (local.get $y)
                (i32.add (i32.mul (i32.mul (local.get $b) (local.get $T)) (local.get $D4))
                  (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2))))
              (local.get $D4) (local.get $T) (local.get $hd) (local.get $T) (f32.const 1)
              (i32.const 0))
            (local.set $h (i32.add (local.get $h) (i32.const 1)))
            (br $head)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $seq))))

  ;; Backward, from the forward's `qkv` and weights `p` and the output's gradient `dy`
  ;; [B·T, D]: `dqkv` [B·T, 3D] gets the gradients of queries, keys and values (written,
  ;; not added). `work` is scratch for one head (hd·T + 3·T·T floats, one per thread).
  (func (export "attention_backward")
    (param $qkv i32) (param $dy i32) (param $p i32) (param $dqkv i32) (param $work i32)
    (param $T i32) (param $D i32) (param $heads i32) (param $scale f32) (param $b0 i32)
    (param $b1 i32)
    (local $b i32) (local $h i32) (local $hd i32) (local $T4 i32) (local $L4 i32)
    (local $D4 i32) (local $off i32) (local $q i32) (local $dq i32) (local $d i32)
    (local $ph i32) (local $pt i32) (local $ds i32) (local $dst i32)
    (local.set $hd (i32.div_u (local.get $D) (local.get $heads)))
    (local.set $T4 (i32.shl (local.get $T) (i32.const 2)))
    (local.set $D4 (i32.shl (local.get $D) (i32.const 2)))
    (local.set $L4 (i32.mul (local.get $D4) (i32.const 3)))
    ;; scratch: Vᵀ (hd × T), Pᵀ, dS and dSᵀ (T × T each)
    (local.set $pt (i32.add (local.get $work) (i32.mul (local.get $hd) (local.get $T4))))
    (local.set $ds (i32.add (local.get $pt) (i32.mul (local.get $T) (local.get $T4))))
    (local.set $dst (i32.add (local.get $ds) (i32.mul (local.get $T) (local.get $T4))))
    (local.set $b (local.get $b0))
    (block $seqs_done
      (loop $seq
        (br_if $seqs_done (i32.ge_u (local.get $b) (local.get $b1)))
        (local.set $h (i32.const 0))
        (block $heads_done
          (loop $head
            (br_if $heads_done (i32.ge_u (local.get $h) (local.get $heads)))
            (local.set $off
              (i32.add (i32.mul (i32.mul (local.get $b) (local.get $T)) (local.get $L4))
                (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2))))
            (local.set $q (i32.add (local.get $qkv) (local.get $off)))
            (local.set $dq (i32.add (local.get $dqkv) (local.get $off)))
            (local.set $d
              (i32.add (local.get $dy)
                (i32.add (i32.mul (i32.mul (local.get $b) (local.get $T)) (local.get $D4))
                  (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2)))))
            (local.set $ph
              (i32.add (local.get $p)
                (i32.mul
                  (i32.mul (i32.add (i32.mul (local.get $b) (local.get $heads)) (local.get $h))
                    (local.get $T))
                  (local.get $T4))))
            ;; dP = dY · Vᵀ ; dV = Pᵀ · dY
            (call $transpose (i32.add (local.get $q) (i32.shl (local.get $D4) (i32.const 1)))
              (local.get $L4) (local.get $work) (local.get $T4) (local.get $T) (local.get $hd))
            (call $mm (local.get $d) (local.get $D4) (local.get $work) (local.get $T4)
              (local.get $ds) (local.get $T4) (local.get $T) (local.get $T) (local.get $hd)
              (f32.const 1) (i32.const 0))
            (call $transpose (local.get $ph) (local.get $T4) (local.get $pt) (local.get $T4)
              (local.get $T) (local.get $T))
            (call $mm (local.get $pt) (local.get $T4) (local.get $d) (local.get $D4)
              (i32.add (local.get $dq) (i32.shl (local.get $D4) (i32.const 1))) (local.get $L4)
              (local.get $T) (local.get $hd) (local.get $T) (f32.const 1) (i32.const 0))
            ;; softmax backward: dS = P ∘ (dP − Σ_j dP·P)
            (call $softmax_backward_rows (local.get $ph) (local.get $ds) (local.get $T)
              (local.get $T) (local.get $T4))
            ;; dQ = scale · dS · K ; dK = scale · dSᵀ · Q
            (call $mm (local.get $ds) (local.get $T4) (i32.add (local.get $q) (local.get $D4))
              (local.get $L4) (local.get $dq) (local.get $L4) (local.get $T) (local.get $hd)
              (local.get $T) (local.get $scale) (i32.const 0))
            (call $transpose (local.get $ds) (local.get $T4) (local.get $dst) (local.get $T4)
              (local.get $T) (local.get $T))
            (call $mm (local.get $dst) (local.get $T4) (local.get $q) (local.get $L4)
              (i32.add (local.get $dq) (local.get $D4)) (local.get $L4) (local.get $T)
              (local.get $hd) (local.get $T) (local.get $scale) (i32.const 0))
            (local.set $h (i32.add (local.get $h) (i32.const 1)))
            (br $head)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $seq))))

  ;; ---- embeddings ----------------------------------------------------------------

  ;; out row i = table row ids[i], for n rows of rowBytes bytes (ids: int32 at $ids, each
  ;; already checked to be a row of the table).
  (func (export "gather_rows")
    (param $out i32) (param $table i32) (param $ids i32) (param $n i32) (param $rowBytes i32)
    (local $i i32)
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (memory.copy
          (i32.add (local.get $out) (i32.mul (local.get $i) (local.get $rowBytes)))
          (i32.add (local.get $table)
            (i32.mul (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2))))
              (local.get $rowBytes)))
          (local.get $rowBytes))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $row))))

  ;; out = 0 (segments rows of `inner` floats), then out row ids[r] += src row r for
  ;; r = 0 … n − 1 in order (an embedding's gradient); ids outside [0, segments) are
  ;; skipped, as TensorFlow drops them.
  (func (export "scatter_add_rows")
    (param $out i32) (param $src i32) (param $ids i32) (param $n i32) (param $inner i32)
    (param $segments i32)
    (local $r i32) (local $s i32) (local $dp i32) (local $sp i32) (local $j i32)
    (local $rowBytes i32) (local $vec i32)
    (local.set $rowBytes (i32.shl (local.get $inner) (i32.const 2)))
    (local.set $vec (i32.and (local.get $rowBytes) (i32.const -16)))
    (memory.fill (local.get $out) (i32.const 0)
      (i32.mul (local.get $segments) (local.get $rowBytes)))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $n)))
        (local.set $s (i32.load (i32.add (local.get $ids) (i32.shl (local.get $r) (i32.const 2)))))
        (if (i32.lt_u (local.get $s) (local.get $segments))
          (then
            (local.set $dp (i32.add (local.get $out) (i32.mul (local.get $s) (local.get $rowBytes))))
            (local.set $sp (i32.add (local.get $src) (i32.mul (local.get $r) (local.get $rowBytes))))
            (local.set $j (i32.const 0))
            (block $d4 (loop $l4
              (br_if $d4 (i32.ge_u (local.get $j) (local.get $vec)))
              (v128.store (i32.add (local.get $dp) (local.get $j))
                (f32x4.add (v128.load (i32.add (local.get $dp) (local.get $j)))
                  (v128.load (i32.add (local.get $sp) (local.get $j)))))
              (local.set $j (i32.add (local.get $j) (i32.const 16)))
              (br $l4)))
            (block $d1 (loop $l1
              (br_if $d1 (i32.ge_u (local.get $j) (local.get $rowBytes)))
              (f32.store (i32.add (local.get $dp) (local.get $j))
                (f32.add (f32.load (i32.add (local.get $dp) (local.get $j)))
                  (f32.load (i32.add (local.get $sp) (local.get $j)))))
              (local.set $j (i32.add (local.get $j) (i32.const 4)))
              (br $l1)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))
)

;; The library's own single-precision GEMM, f32x4: C = alpha·op(A)·op(B) + beta·C, row-major,
;; op(X) = X or Xᵀ. It runs whenever no system BLAS is found (lib/kernels/gemm.ts).
;;
;; Structure (the Goto/BLIS scheme):
;; - cache blocking: op(B) is taken in blocks of KC rows × NC columns, packed once into
;;   panels of NR = 8 columns (KC·8 floats, 8 kB: stays in L1 while a block of A streams
;;   past it); op(A) in blocks of MC rows × KC, packed into panels of MR = 4 rows with
;;   alpha folded in (128 kB: stays in L2).
;; - register blocking: the micro-kernel keeps a 4×8 tile of C in 8 f32x4 accumulators
;;   (plus 2 vectors of B and 1 splat of A: 11 of the 16 SIMD registers) and, per step of
;;   the reduction, does 8 multiply-adds from 2 vector loads and 4 splat loads; two steps
;;   per loop iteration (constant offsets, half the pointer updates and branches: 10–30 %
;;   faster on a 2-core AMD EPYC, 512³ 30.6 → 34.5 GFLOP/s on one thread).
;; - edges: packed panels are padded with zeros, so the micro-kernel always computes a
;;   full tile; a partial tile goes through a scratch tile of 128 bytes at $tile.
;; - threads: the memory is imported and shared, so that several threads (each with its
;;   own instance of this module) can compute disjoint parts of one C at once; every
;;   address a call writes besides C ($wa, $wb, $tile) is a parameter, so threads given
;;   their own workspaces never write the same bytes. lib/kernels/simd/simd_gemm.ts splits
;;   the work; build.ts also assembles a variant with a memory of its own (exported),
;;   for runtimes without shared memory.
;; - $madd is a*b + c as mul then add. build.ts also assembles a variant in which it is
;;   relaxed-SIMD's f32x4.relaxed_madd (one fused multiply-add where the CPU has FMA);
;;   lib/kernels/simd/simd_gemm.ts picks that one where the runtime validates it.
;;
;; Assembled by `deno task build:wasm` (build.ts: wabt, then Binaryen -O3, which inlines
;; $madd and the packing helpers) into gemm_wasm.ts. Addresses are byte offsets into the
;; memory; strides (lda, ldb, ldc) are in floats.
(module
  (import "env" "memory" (memory 1 65536 shared))

  (func $madd (param $x v128) (param $y v128) (param $z v128) (result v128)
    (f32x4.add (f32x4.mul (local.get $x) (local.get $y)) (local.get $z)))

  (func $min (param $a i32) (param $b i32) (result i32)
    (select (local.get $a) (local.get $b) (i32.lt_s (local.get $a) (local.get $b))))

  ;; C (m rows of n floats, ldc apart) ← beta·C; beta = 0 writes zeros (NaN in C too).
  (func $scale_c (param $c i32) (param $m i32) (param $n i32) (param $ldc i32) (param $beta f32)
    (local $i i32) (local $j i32) (local $row i32) (local $bv v128) (local $p i32)
    (local.set $bv (f32x4.splat (local.get $beta)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_s (local.get $i) (local.get $m)))
        (local.set $row
          (i32.add (local.get $c) (i32.shl (i32.mul (local.get $i) (local.get $ldc)) (i32.const 2))))
        (if (f32.eq (local.get $beta) (f32.const 0))
          (then (memory.fill (local.get $row) (i32.const 0) (i32.shl (local.get $n) (i32.const 2))))
          (else
            (local.set $j (i32.const 0))
            (block $vd
              (loop $v
                (br_if $vd (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $n)))
                (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                (v128.store (local.get $p) (f32x4.mul (v128.load (local.get $p)) (local.get $bv)))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $v)))
            (block $sd
              (loop $s
                (br_if $sd (i32.ge_s (local.get $j) (local.get $n)))
                (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                (f32.store (local.get $p) (f32.mul (f32.load (local.get $p)) (local.get $beta)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $s)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; Packs op(B)[p0 .. p0+kc, j0 .. j0+nc] into panels of 8 columns at $w: panel q (of
  ;; columns q .. q+7) starts at float q·kc and holds kc rows of 8 floats (zeros past nc).
  ;; B(p, j) is b[p·ldb + j], or b[j·ldb + p] when transposed.
  (func $pack_b (param $tb i32) (param $b i32) (param $ldb i32) (param $p0 i32) (param $kc i32)
    (param $j0 i32) (param $nc i32) (param $w i32)
    (local $q i32) (local $cols i32) (local $p i32) (local $j i32) (local $src i32) (local $dst i32)
    (local $d i32) (local $ldb4 i32)
    (local.set $ldb4 (i32.shl (local.get $ldb) (i32.const 2)))
    (block $done
      (loop $panels
        (br_if $done (i32.ge_s (local.get $q) (local.get $nc)))
        (local.set $cols (call $min (i32.sub (local.get $nc) (local.get $q)) (i32.const 8)))
        (local.set $dst
          (i32.add (local.get $w) (i32.shl (i32.mul (local.get $q) (local.get $kc)) (i32.const 2))))
        (if (i32.lt_s (local.get $cols) (i32.const 8))
          (then
            (memory.fill (local.get $dst) (i32.const 0) (i32.shl (local.get $kc) (i32.const 5)))))
        (if (i32.eqz (local.get $tb))
          (then
            (local.set $src
              (i32.add (local.get $b)
                (i32.shl
                  (i32.add (i32.mul (local.get $p0) (local.get $ldb))
                    (i32.add (local.get $j0) (local.get $q)))
                  (i32.const 2))))
            (local.set $p (i32.const 0))
            (if (i32.eq (local.get $cols) (i32.const 8))
              (then
                (loop $rows
                  (v128.store (local.get $dst) (v128.load (local.get $src)))
                  (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $src)))
                  (local.set $src (i32.add (local.get $src) (local.get $ldb4)))
                  (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (br_if $rows (i32.lt_s (local.get $p) (local.get $kc)))))
              (else
                (loop $rows2
                  (local.set $j (i32.const 0))
                  (loop $cols2
                    (f32.store
                      (i32.add (local.get $dst) (i32.shl (local.get $j) (i32.const 2)))
                      (f32.load (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 2)))))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br_if $cols2 (i32.lt_s (local.get $j) (local.get $cols))))
                  (local.set $src (i32.add (local.get $src) (local.get $ldb4)))
                  (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (br_if $rows2 (i32.lt_s (local.get $p) (local.get $kc)))))))
          (else
            ;; transposed: each column of the panel is a contiguous run of kc floats
            (local.set $j (i32.const 0))
            (loop $tcols
              (local.set $src
                (i32.add (local.get $b)
                  (i32.shl
                    (i32.add
                      (i32.mul (i32.add (i32.add (local.get $j0) (local.get $q)) (local.get $j))
                        (local.get $ldb))
                      (local.get $p0))
                    (i32.const 2))))
              (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $j) (i32.const 2))))
              (local.set $p (i32.const 0))
              (loop $trows
                (f32.store (local.get $d) (f32.load (local.get $src)))
                (local.set $src (i32.add (local.get $src) (i32.const 4)))
                (local.set $d (i32.add (local.get $d) (i32.const 32)))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br_if $trows (i32.lt_s (local.get $p) (local.get $kc))))
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (br_if $tcols (i32.lt_s (local.get $j) (local.get $cols))))))
        (local.set $q (i32.add (local.get $q) (i32.const 8)))
        (br $panels))))

  ;; Packs alpha·op(A)[i0 .. i0+mc, p0 .. p0+kc] into panels of 4 rows at $w: panel q (rows
  ;; q .. q+3) starts at float q·kc and holds kc columns of 4 floats (zeros past mc).
  ;; A(i, p) is a[i·lda + p], or a[p·lda + i] when transposed.
  (func $pack_a (param $ta i32) (param $a i32) (param $lda i32) (param $i0 i32) (param $mc i32)
    (param $p0 i32) (param $kc i32) (param $alpha f32) (param $w i32)
    (local $q i32) (local $rows i32) (local $p i32) (local $r i32) (local $src i32) (local $dst i32)
    (local $d i32) (local $lda4 i32) (local $av v128)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $lda4 (i32.shl (local.get $lda) (i32.const 2)))
    (local.set $av (f32x4.splat (local.get $alpha)))
    (block $done
      (loop $panels
        (br_if $done (i32.ge_s (local.get $q) (local.get $mc)))
        (local.set $rows (call $min (i32.sub (local.get $mc) (local.get $q)) (i32.const 4)))
        (local.set $dst
          (i32.add (local.get $w) (i32.shl (i32.mul (local.get $q) (local.get $kc)) (i32.const 2))))
        (if (i32.lt_s (local.get $rows) (i32.const 4))
          (then
            (memory.fill (local.get $dst) (i32.const 0) (i32.shl (local.get $kc) (i32.const 4)))))
        (if (i32.eqz (local.get $ta))
          (then
            (if (i32.eq (local.get $rows) (i32.const 4))
              (then
                ;; four rows, four columns at a time through a 4×4 transpose
                (local.set $r0
                  (i32.add (local.get $a)
                    (i32.shl
                      (i32.add
                        (i32.mul (i32.add (local.get $i0) (local.get $q)) (local.get $lda))
                        (local.get $p0))
                      (i32.const 2))))
                (local.set $r1 (i32.add (local.get $r0) (local.get $lda4)))
                (local.set $r2 (i32.add (local.get $r1) (local.get $lda4)))
                (local.set $r3 (i32.add (local.get $r2) (local.get $lda4)))
                (local.set $p (i32.const 0))
                (block $vd
                  (loop $v
                    (br_if $vd (i32.gt_s (i32.add (local.get $p) (i32.const 4)) (local.get $kc)))
                    (local.set $v0 (v128.load (local.get $r0)))
                    (local.set $v1 (v128.load (local.get $r1)))
                    (local.set $v2 (v128.load (local.get $r2)))
                    (local.set $v3 (v128.load (local.get $r3)))
                    ;; t0 = (v0₀ v1₀ v0₁ v1₁), t1 = (v2₀ v3₀ v2₁ v3₁), t2, t3 the same for lanes 2, 3
                    (local.set $t0
                      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
                        (local.get $v0) (local.get $v1)))
                    (local.set $t1
                      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
                        (local.get $v2) (local.get $v3)))
                    (local.set $t2
                      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
                        (local.get $v0) (local.get $v1)))
                    (local.set $t3
                      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
                        (local.get $v2) (local.get $v3)))
                    (v128.store (local.get $dst)
                      (f32x4.mul (local.get $av)
                        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                          (local.get $t0) (local.get $t1))))
                    (v128.store offset=16 (local.get $dst)
                      (f32x4.mul (local.get $av)
                        (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31
                          (local.get $t0) (local.get $t1))))
                    (v128.store offset=32 (local.get $dst)
                      (f32x4.mul (local.get $av)
                        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                          (local.get $t2) (local.get $t3))))
                    (v128.store offset=48 (local.get $dst)
                      (f32x4.mul (local.get $av)
                        (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31
                          (local.get $t2) (local.get $t3))))
                    (local.set $r0 (i32.add (local.get $r0) (i32.const 16)))
                    (local.set $r1 (i32.add (local.get $r1) (i32.const 16)))
                    (local.set $r2 (i32.add (local.get $r2) (i32.const 16)))
                    (local.set $r3 (i32.add (local.get $r3) (i32.const 16)))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
                    (local.set $p (i32.add (local.get $p) (i32.const 4)))
                    (br $v)))
                (block $sd
                  (loop $s
                    (br_if $sd (i32.ge_s (local.get $p) (local.get $kc)))
                    (f32.store (local.get $dst)
                      (f32.mul (local.get $alpha) (f32.load (local.get $r0))))
                    (f32.store offset=4 (local.get $dst)
                      (f32.mul (local.get $alpha) (f32.load (local.get $r1))))
                    (f32.store offset=8 (local.get $dst)
                      (f32.mul (local.get $alpha) (f32.load (local.get $r2))))
                    (f32.store offset=12 (local.get $dst)
                      (f32.mul (local.get $alpha) (f32.load (local.get $r3))))
                    (local.set $r0 (i32.add (local.get $r0) (i32.const 4)))
                    (local.set $r1 (i32.add (local.get $r1) (i32.const 4)))
                    (local.set $r2 (i32.add (local.get $r2) (i32.const 4)))
                    (local.set $r3 (i32.add (local.get $r3) (i32.const 4)))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
                    (local.set $p (i32.add (local.get $p) (i32.const 1)))
                    (br $s))))
              (else
                ;; fewer than four rows: one at a time
                (local.set $r (i32.const 0))
                (loop $prow
                  (local.set $src
                    (i32.add (local.get $a)
                      (i32.shl
                        (i32.add
                          (i32.mul
                            (i32.add (i32.add (local.get $i0) (local.get $q)) (local.get $r))
                            (local.get $lda))
                          (local.get $p0))
                        (i32.const 2))))
                  (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $r) (i32.const 2))))
                  (local.set $p (i32.const 0))
                  (loop $pcol
                    (f32.store (local.get $d) (f32.mul (local.get $alpha) (f32.load (local.get $src))))
                    (local.set $src (i32.add (local.get $src) (i32.const 4)))
                    (local.set $d (i32.add (local.get $d) (i32.const 16)))
                    (local.set $p (i32.add (local.get $p) (i32.const 1)))
                    (br_if $pcol (i32.lt_s (local.get $p) (local.get $kc))))
                  (local.set $r (i32.add (local.get $r) (i32.const 1)))
                  (br_if $prow (i32.lt_s (local.get $r) (local.get $rows)))))))
          (else
            ;; transposed: the panel's four rows at one p are contiguous
            (local.set $src
              (i32.add (local.get $a)
                (i32.shl
                  (i32.add (i32.mul (local.get $p0) (local.get $lda))
                    (i32.add (local.get $i0) (local.get $q)))
                  (i32.const 2))))
            (local.set $p (i32.const 0))
            (if (i32.eq (local.get $rows) (i32.const 4))
              (then
                (loop $tv
                  (v128.store (local.get $dst)
                    (f32x4.mul (local.get $av) (v128.load (local.get $src))))
                  (local.set $src (i32.add (local.get $src) (local.get $lda4)))
                  (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (br_if $tv (i32.lt_s (local.get $p) (local.get $kc)))))
              (else
                (loop $ts
                  (local.set $r (i32.const 0))
                  (loop $tr
                    (f32.store
                      (i32.add (local.get $dst) (i32.shl (local.get $r) (i32.const 2)))
                      (f32.mul (local.get $alpha)
                        (f32.load (i32.add (local.get $src) (i32.shl (local.get $r) (i32.const 2))))))
                    (local.set $r (i32.add (local.get $r) (i32.const 1)))
                    (br_if $tr (i32.lt_s (local.get $r) (local.get $rows))))
                  (local.set $src (i32.add (local.get $src) (local.get $lda4)))
                  (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (br_if $ts (i32.lt_s (local.get $p) (local.get $kc))))))))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br $panels))))

  ;; The 4×8 micro-kernel: C[rows × cols] at $c (rows ≤ 4, cols ≤ 8, ldc4 bytes apart) +=
  ;; packed A panel ($pa, kc × 4) · packed B panel ($pb, kc × 8); kc ≥ 1. With $add = 0
  ;; the tile is stored instead (the first block of k when beta = 0: C is never read). A
  ;; partial tile goes through the 128 bytes at $tile.
  (func $kernel (param $pa i32) (param $pb i32) (param $kc i32) (param $c i32) (param $ldc4 i32)
    (param $rows i32) (param $cols i32) (param $add i32) (param $tile i32)
    (local $end i32) (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $r i32) (local $j i32) (local $p i32)
    (local.set $end (i32.add (local.get $pa) (i32.shl (local.get $kc) (i32.const 4))))
    ;; two steps of k per iteration while two remain (fewer pointer updates and branches)
    (block $pairs_done
      (loop $k2
        (br_if $pairs_done (i32.gt_u (i32.add (local.get $pa) (i32.const 32)) (local.get $end)))
        (local.set $b0 (v128.load (local.get $pb)))
        (local.set $b1 (v128.load offset=16 (local.get $pb)))
        (local.set $x (v128.load32_splat (local.get $pa)))
        (local.set $c00 (call $madd (local.get $x) (local.get $b0) (local.get $c00)))
        (local.set $c01 (call $madd (local.get $x) (local.get $b1) (local.get $c01)))
        (local.set $x (v128.load32_splat offset=4 (local.get $pa)))
        (local.set $c10 (call $madd (local.get $x) (local.get $b0) (local.get $c10)))
        (local.set $c11 (call $madd (local.get $x) (local.get $b1) (local.get $c11)))
        (local.set $x (v128.load32_splat offset=8 (local.get $pa)))
        (local.set $c20 (call $madd (local.get $x) (local.get $b0) (local.get $c20)))
        (local.set $c21 (call $madd (local.get $x) (local.get $b1) (local.get $c21)))
        (local.set $x (v128.load32_splat offset=12 (local.get $pa)))
        (local.set $c30 (call $madd (local.get $x) (local.get $b0) (local.get $c30)))
        (local.set $c31 (call $madd (local.get $x) (local.get $b1) (local.get $c31)))
        (local.set $b0 (v128.load offset=32 (local.get $pb)))
        (local.set $b1 (v128.load offset=48 (local.get $pb)))
        (local.set $x (v128.load32_splat offset=16 (local.get $pa)))
        (local.set $c00 (call $madd (local.get $x) (local.get $b0) (local.get $c00)))
        (local.set $c01 (call $madd (local.get $x) (local.get $b1) (local.get $c01)))
        (local.set $x (v128.load32_splat offset=20 (local.get $pa)))
        (local.set $c10 (call $madd (local.get $x) (local.get $b0) (local.get $c10)))
        (local.set $c11 (call $madd (local.get $x) (local.get $b1) (local.get $c11)))
        (local.set $x (v128.load32_splat offset=24 (local.get $pa)))
        (local.set $c20 (call $madd (local.get $x) (local.get $b0) (local.get $c20)))
        (local.set $c21 (call $madd (local.get $x) (local.get $b1) (local.get $c21)))
        (local.set $x (v128.load32_splat offset=28 (local.get $pa)))
        (local.set $c30 (call $madd (local.get $x) (local.get $b0) (local.get $c30)))
        (local.set $c31 (call $madd (local.get $x) (local.get $b1) (local.get $c31)))
        (local.set $pa (i32.add (local.get $pa) (i32.const 32)))
        (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
        (br $k2)))
    ;; the last step when kc is odd
    (if (i32.lt_u (local.get $pa) (local.get $end)) (then
      (local.set $b0 (v128.load (local.get $pb)))
      (local.set $b1 (v128.load offset=16 (local.get $pb)))
      (local.set $x (v128.load32_splat (local.get $pa)))
      (local.set $c00 (call $madd (local.get $x) (local.get $b0) (local.get $c00)))
      (local.set $c01 (call $madd (local.get $x) (local.get $b1) (local.get $c01)))
      (local.set $x (v128.load32_splat offset=4 (local.get $pa)))
      (local.set $c10 (call $madd (local.get $x) (local.get $b0) (local.get $c10)))
      (local.set $c11 (call $madd (local.get $x) (local.get $b1) (local.get $c11)))
      (local.set $x (v128.load32_splat offset=8 (local.get $pa)))
      (local.set $c20 (call $madd (local.get $x) (local.get $b0) (local.get $c20)))
      (local.set $c21 (call $madd (local.get $x) (local.get $b1) (local.get $c21)))
      (local.set $x (v128.load32_splat offset=12 (local.get $pa)))
      (local.set $c30 (call $madd (local.get $x) (local.get $b0) (local.get $c30)))
      (local.set $c31 (call $madd (local.get $x) (local.get $b1) (local.get $c31)))
    ))
    (if (i32.and (i32.eq (local.get $rows) (i32.const 4)) (i32.eq (local.get $cols) (i32.const 8)))
      (then
        (if (local.get $add)
          (then
            (local.set $c00 (f32x4.add (v128.load (local.get $c)) (local.get $c00)))
            (local.set $c01 (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c01)))))
        (v128.store (local.get $c) (local.get $c00))
        (v128.store offset=16 (local.get $c) (local.get $c01))
        (local.set $c (i32.add (local.get $c) (local.get $ldc4)))
        (if (local.get $add)
          (then
            (local.set $c10 (f32x4.add (v128.load (local.get $c)) (local.get $c10)))
            (local.set $c11 (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c11)))))
        (v128.store (local.get $c) (local.get $c10))
        (v128.store offset=16 (local.get $c) (local.get $c11))
        (local.set $c (i32.add (local.get $c) (local.get $ldc4)))
        (if (local.get $add)
          (then
            (local.set $c20 (f32x4.add (v128.load (local.get $c)) (local.get $c20)))
            (local.set $c21 (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c21)))))
        (v128.store (local.get $c) (local.get $c20))
        (v128.store offset=16 (local.get $c) (local.get $c21))
        (local.set $c (i32.add (local.get $c) (local.get $ldc4)))
        (if (local.get $add)
          (then
            (local.set $c30 (f32x4.add (v128.load (local.get $c)) (local.get $c30)))
            (local.set $c31 (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c31)))))
        (v128.store (local.get $c) (local.get $c30))
        (v128.store offset=16 (local.get $c) (local.get $c31)))
      (else
        ;; a partial tile: through the scratch tile at $tile
        (v128.store (local.get $tile) (local.get $c00))
        (v128.store offset=16 (local.get $tile) (local.get $c01))
        (v128.store offset=32 (local.get $tile) (local.get $c10))
        (v128.store offset=48 (local.get $tile) (local.get $c11))
        (v128.store offset=64 (local.get $tile) (local.get $c20))
        (v128.store offset=80 (local.get $tile) (local.get $c21))
        (v128.store offset=96 (local.get $tile) (local.get $c30))
        (v128.store offset=112 (local.get $tile) (local.get $c31))
        (loop $er
          (local.set $j (i32.const 0))
          (loop $ec
            (local.set $p (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2))))
            (f32.store (local.get $p)
              (f32.add
                (select (f32.load (local.get $p)) (f32.const 0) (local.get $add))
                (f32.load
                  (i32.add (local.get $tile)
                    (i32.shl (i32.add (i32.shl (local.get $r) (i32.const 3)) (local.get $j))
                      (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br_if $ec (i32.lt_s (local.get $j) (local.get $cols))))
          (local.set $c (i32.add (local.get $c) (local.get $ldc4)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br_if $er (i32.lt_s (local.get $r) (local.get $rows)))))))

  ;; C = alpha·op(A)·op(B) + beta·C (A is m×k after op, B k×n, C m×n). $wa has room for
  ;; 128·256 floats, $wb for 256·(min(n, 1024) rounded up to 8) floats, $tile for 32
  ;; floats; all three 16-byte aligned. Reads A, B and C, writes C, $wa, $wb and $tile.
  (func (export "gemm") (param $ta i32) (param $tb i32) (param $m i32) (param $n i32)
    (param $k i32) (param $alpha f32) (param $a i32) (param $lda i32) (param $b i32)
    (param $ldb i32) (param $beta f32) (param $c i32) (param $ldc i32) (param $wa i32)
    (param $wb i32) (param $tile i32)
    (local $jc i32) (local $nc i32) (local $pc i32) (local $kc i32) (local $ic i32) (local $mc i32)
    (local $jr i32) (local $ir i32) (local $ldc4 i32) (local $noAB i32)
    (local.set $noAB
      (i32.or (i32.le_s (local.get $k) (i32.const 0)) (f32.eq (local.get $alpha) (f32.const 0))))
    ;; beta = 0 with a product: the first block of k stores into C, which is not read
    (if (i32.and (f32.ne (local.get $beta) (f32.const 1))
          (i32.or (local.get $noAB) (f32.ne (local.get $beta) (f32.const 0))))
      (then
        (call $scale_c (local.get $c) (local.get $m) (local.get $n) (local.get $ldc)
          (local.get $beta))))
    (if (local.get $noAB) (then (return)))
    (local.set $ldc4 (i32.shl (local.get $ldc) (i32.const 2)))
    (block $jdone
      (loop $jloop
        (br_if $jdone (i32.ge_s (local.get $jc) (local.get $n)))
        (local.set $nc (call $min (i32.sub (local.get $n) (local.get $jc)) (i32.const 1024)))
        (local.set $pc (i32.const 0))
        (block $pdone
          (loop $ploop
            (br_if $pdone (i32.ge_s (local.get $pc) (local.get $k)))
            (local.set $kc (call $min (i32.sub (local.get $k) (local.get $pc)) (i32.const 256)))
            (call $pack_b (local.get $tb) (local.get $b) (local.get $ldb) (local.get $pc)
              (local.get $kc) (local.get $jc) (local.get $nc) (local.get $wb))
            (local.set $ic (i32.const 0))
            (block $idone
              (loop $iloop
                (br_if $idone (i32.ge_s (local.get $ic) (local.get $m)))
                (local.set $mc (call $min (i32.sub (local.get $m) (local.get $ic)) (i32.const 128)))
                (call $pack_a (local.get $ta) (local.get $a) (local.get $lda) (local.get $ic)
                  (local.get $mc) (local.get $pc) (local.get $kc) (local.get $alpha) (local.get $wa))
                (local.set $jr (i32.const 0))
                (loop $jrloop
                  (local.set $ir (i32.const 0))
                  (loop $irloop
                    (call $kernel
                      (i32.add (local.get $wa)
                        (i32.shl (i32.mul (local.get $ir) (local.get $kc)) (i32.const 2)))
                      (i32.add (local.get $wb)
                        (i32.shl (i32.mul (local.get $jr) (local.get $kc)) (i32.const 2)))
                      (local.get $kc)
                      (i32.add (local.get $c)
                        (i32.shl
                          (i32.add
                            (i32.mul (i32.add (local.get $ic) (local.get $ir)) (local.get $ldc))
                            (i32.add (local.get $jc) (local.get $jr)))
                          (i32.const 2)))
                      (local.get $ldc4)
                      (call $min (i32.sub (local.get $mc) (local.get $ir)) (i32.const 4))
                      (call $min (i32.sub (local.get $nc) (local.get $jr)) (i32.const 8))
                      ;; add to C unless this is the first block of k and beta = 0
                      (i32.or (i32.ne (local.get $pc) (i32.const 0))
                        (f32.ne (local.get $beta) (f32.const 0)))
                      (local.get $tile))
                    (local.set $ir (i32.add (local.get $ir) (i32.const 4)))
                    (br_if $irloop (i32.lt_s (local.get $ir) (local.get $mc))))
                  (local.set $jr (i32.add (local.get $jr) (i32.const 8)))
                  (br_if $jrloop (i32.lt_s (local.get $jr) (local.get $nc))))
                (local.set $ic (i32.add (local.get $ic) (i32.const 128)))
                (br $iloop)))
            (local.set $pc (i32.add (local.get $pc) (i32.const 256)))
            (br $ploop)))
        (local.set $jc (i32.add (local.get $jc) (i32.const 1024)))
        (br $jloop))))
)

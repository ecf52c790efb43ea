/**
 * WGSL snippets shared by the row-wise programs (attention rows, layer norm rows): a
 * workgroup-wide sum and max over the {@linkcode WORKGROUP} lanes.
 * @module
 */

import { WORKGROUP } from "./program.ts";

/**
 * `red` (workgroup memory) and `rowSum(v)` / `rowMax(v)`: every lane passes its partial
 * value and gets the workgroup's total; every lane must call it (it has barriers).
 */
export const ROW_REDUCE = `
var<workgroup> red : array<f32, ${WORKGROUP}>;
fn rowReduce(v : f32, isMax : bool) -> f32 {
  let tid = i32(localId.x);
  workgroupBarrier();
  red[tid] = v;
  workgroupBarrier();
  for (var s = ${WORKGROUP / 2}; s > 0; s = s >> 1u) {
    if (tid < s) {
      red[tid] = select(red[tid] + red[tid + s], max(red[tid], red[tid + s]), isMax);
    }
    workgroupBarrier();
  }
  return red[0];
}
fn rowSum(v : f32) -> f32 { return rowReduce(v, false); }
fn rowMax(v : f32) -> f32 { return rowReduce(v, true); }`;

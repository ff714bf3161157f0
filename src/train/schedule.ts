// Learning-rate schedule: linear warm-up, then cosine decay to lr · min_lr_ratio at the last step
// (Top-P paper §1.4 of the methods spec: 3e-4 → 3e-5, i.e. 10 %).

export function learningRate(step: number, total: number, lr: number, warmup: number, minRatio: number): number {
  if (warmup > 0 && step < warmup) return (lr * (step + 1)) / warmup;
  const span = Math.max(1, total - 1 - warmup);
  const progress = Math.min(1, Math.max(0, (step - warmup) / span));
  const min = lr * minRatio;
  return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * progress));
}

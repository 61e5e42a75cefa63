/** A fixed-size ring of the most recent items (oldest dropped first). */
export class Ring<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private size = 0;
  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.size; i++)
      out.push(this.items[(this.next - this.size + i + this.capacity) % this.capacity]!);
    return out;
  }
}

/** Per-second samples of a few numeric series, last `capacity` seconds, oldest first. */
export class SeriesRing {
  private readonly data: Float64Array[];
  private next = 0;
  private size = 0;
  constructor(
    readonly names: readonly string[],
    readonly capacity: number,
  ) {
    this.data = names.map(() => new Float64Array(capacity));
  }

  push(values: readonly number[]): void {
    for (let i = 0; i < this.data.length; i++) this.data[i]![this.next] = values[i] ?? 0;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  toJSON(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    this.names.forEach((name, n) => {
      const arr: number[] = [];
      for (let i = 0; i < this.size; i++)
        arr.push(this.data[n]![(this.next - this.size + i + this.capacity) % this.capacity]!);
      out[name] = arr;
    });
    return out;
  }
}

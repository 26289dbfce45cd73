export declare function mulberry32(seed: number): () => number;
export declare function randF32(n: number, r: () => number, lo?: number, hi?: number): Float32Array;

export { matmul, linear } from './linalg.js';
export { spmm, propagateSum, type CsrMatrix } from './sparse.js';
export { add, addN, lincomb, sub, scale, mul, softplus, leakyRelu, exp, log, sigmoid, addScalar } from './elementwise.js';
export { sum, mean, sumSquares, rowDot, sumScalars } from './reduce.js';
export { gatherRows, concatRows, sliceRows } from './rows.js';
export { softmaxRows, logSumExpRows, logSoftmaxRows, l2NormalizeRows } from './softmax.js';
export { infoNCE, sslConLoss, type LinearFactors } from './contrastive.js';
export { intentEdgeWeights, spmmValues, maskRows, type EdgeList } from './intent.js';
export { bprLoss } from './losses.js';

// Browser-safe analysis API (no node:*): plots as SVG, CSV, sweep tables, blend pictures as RGBA, pruning maths.
// PNG files (plots, blend pictures, contact sheets) come from onelayer/node (src/analysis/image-node.ts, sharp).
export { layoutPlot, sceneToSvg, renderSvg, linearTicks, logTicks, approxTextWidth, PALETTE, type PlotSpec, type PlotSeries, type PlotPoint, type HLine, type Scene, type Prim, type MarkerShape } from './plot.js';
export { toCsv, parseCsv, type CsvValue } from './csv.js';
export { planSweep, runName, isSharedModel, resultFromSummary, resultsToCsv, resultsFromCsv, tradeoffPlot, lineChart, RESULT_COLUMNS, type SweepSpec, type SweepResult, type PlannedRun, type LineChartSeries } from './sweep.js';
export { blendImage, blendLayers, classifyBlendRows, blendK, blendCellSize, naturalCompare, BLEND_RED, BLEND_BLUE, BLEND_OTHER, type NamedTensor, type RgbaImage, type Rgb } from './blend.js';
export { blendPruner, countNonzero, nonzeroParameters, equivalentParameters, referencePoints, pruneChart, PRUNE_COLUMNS, type PruneRow, type ReferencePoint } from './prune.js';

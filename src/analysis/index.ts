// Browser-safe analysis API (no node:*): plots, PNG encoding, CSV, sweep tables, blend pictures, pruning maths.
export { encodePng, createImage, zlibDeflate, type RgbaImage } from './png.js';
export { Canvas, parseColor, type MarkerShape, type Rgb } from './raster.js';
export { layoutPlot, sceneToSvg, rasterizeScene, renderSvg, renderRgba, renderPng, linearTicks, logTicks, PALETTE, type PlotSpec, type PlotSeries, type PlotPoint, type HLine, type Scene, type Prim } from './plot.js';
export { toCsv, parseCsv, type CsvValue } from './csv.js';
export { planSweep, runName, isSharedModel, resultFromSummary, resultsToCsv, resultsFromCsv, tradeoffPlot, lineChart, RESULT_COLUMNS, type SweepSpec, type SweepResult, type PlannedRun, type LineChartSeries } from './sweep.js';
export { renderBlendLayers, blendImage, blendContactSheet, blendLayers, classifyBlendRows, blendK, naturalCompare, BLEND_RED, BLEND_BLUE, BLEND_OTHER, type NamedTensor, type BlendPictures } from './blend.js';
export { blendPruner, countNonzero, nonzeroParameters, equivalentParameters, referencePoints, pruneChart, PRUNE_COLUMNS, type PruneRow, type ReferencePoint } from './prune.js';

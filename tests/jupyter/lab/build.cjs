// Builds the JupyterLab application of the browser suite with rspack, following
// JupyterLab's examples/app (rspack.config.js): the bundle of index.js, plus
// @jupyter/builder's Build.ensureAssets, which copies every extension's settings schemas
// to <out>/schemas and builds each theme's CSS into <out>/themes. The page template and
// the static files are what LabServerApp serves (lab_server.py).
//
// Usage: node build.cjs OUT_DIR   (run in the folder holding node_modules)

const path = require("node:path");
const fs = require("node:fs");
const { rspack } = require("@rspack/core");
const { Build } = require("@jupyter/builder");
const miniSVGDataURI = require("mini-svg-data-uri");

const out = path.resolve(process.argv[2] ?? "build");
const data = require("./package.json");
fs.mkdirSync(out, { recursive: true });

// Writes <here>/style.js (the CSS of every extension, imported by index.js) and returns
// one rspack config per theme.
const themes = Build.ensureAssets({
  packageNames: [...data.jupyterlab.extensions, ...data.jupyterlab.mimeExtensions],
  output: __dirname,
  schemaOutput: out,
  themeOutput: out,
});

const app = {
  context: __dirname,
  entry: ["./index.js"],
  output: { path: out, filename: "bundle.js", chunkFilename: "[name].[contenthash].js" },
  bail: true,
  devtool: false,
  mode: "production",
  performance: { hints: false },
  module: {
    rules: [
      { test: /\.css$/, use: ["style-loader", "css-loader"] },
      { test: /\.raw\.css$/, type: "asset/source" },
      { test: /\.html$/, type: "asset/resource" },
      { test: /\.md$/, type: "asset/source" },
      { test: /\.(jpg|png|gif)$/, type: "asset/resource" },
      { test: /\.js.map$/, type: "asset/resource" },
      { test: /\.woff2(\?v=\d+\.\d+\.\d+)?$/, type: "asset" },
      { test: /\.woff(\?v=\d+\.\d+\.\d+)?$/, type: "asset" },
      { test: /\.ttf(\?v=\d+\.\d+\.\d+)?$/, type: "asset" },
      { test: /\.eot(\?v=\d+\.\d+\.\d+)?$/, type: "asset/resource" },
      {
        // In CSS, SVG becomes a data URI.
        test: /\.svg(\?v=\d+\.\d+\.\d+)?$/,
        issuer: /\.css$/,
        type: "asset/inline",
        generator: {
          dataUrl: {
            content: (content) => miniSVGDataURI(content.content.toString()),
            mimetype: "image/svg+xml",
          },
        },
      },
      {
        // In JavaScript, SVG is imported as a string.
        test: /\.svg(\?v=\d+\.\d+\.\d+)?$/,
        issuer: /\.js$/,
        type: "asset/source",
      },
    ],
  },
  plugins: [
    // Needed for packages that call process.cwd(), such as the path polyfill.
    new rspack.DefinePlugin({ process: { cwd: () => "/", env: {} } }),
  ],
};

const t0 = Date.now();
rspack([app, ...themes], (error, stats) => {
  if (error) {
    console.error(error);
    process.exit(1);
  }
  if (stats.hasErrors()) {
    console.error(stats.toString({ all: false, errors: true }));
    process.exit(1);
  }
  console.log(`JupyterLab built into ${out} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

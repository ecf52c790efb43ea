// The JupyterLab 4 application of the browser suite: JupyterLab's own entry point
// (dev_mode/index.js of the release, which `jupyter lab build` turns into the app a
// `pip install jupyterlab` serves) with the extensions bundled at build time instead of
// loaded as federated modules. Plugins listed in the page config's `disabledExtensions`
// are not activated, exactly as in JupyterLab: the test server disables
// "@jupyterlab/plotly-extension" (the id of jupyterlab-plotly's renderer) for the
// configuration without the Plotly renderer, as `jupyter labextension disable` does.
// `exposeAppInBrowser` puts the app on `window.jupyterapp` for the test to drive.

import { JupyterPluginRegistry, PageConfig } from "@jupyterlab/coreutils";

// The public path of the bundle's lazily loaded chunks and assets.
// deno-lint-ignore no-undef
__webpack_public_path__ = PageConfig.getOption("fullStaticUrl") + "/";

import "./style.js";

/** Drops the plugins that need a language server (JupyterLab's examples/app does too). */
const withoutLsp = (module) => ({
  ...module,
  default: module.default.filter(({ id }) => !id.includes(":language-server")),
});

const extensions = () => [
  import("@jupyterlab/application-extension"),
  import("@jupyterlab/apputils-extension"),
  import("@jupyterlab/audio-extension"),
  import("@jupyterlab/cell-toolbar-extension"),
  import("@jupyterlab/celltags-extension"),
  import("@jupyterlab/codemirror-extension"),
  import("@jupyterlab/completer-extension"),
  import("@jupyterlab/console-extension"),
  import("@jupyterlab/csvviewer-extension"),
  import("@jupyterlab/docmanager-extension"),
  import("@jupyterlab/documentsearch-extension"),
  import("@jupyterlab/filebrowser-extension"),
  import("@jupyterlab/fileeditor-extension").then(withoutLsp),
  import("@jupyterlab/help-extension"),
  import("@jupyterlab/htmlviewer-extension"),
  import("@jupyterlab/hub-extension"),
  import("@jupyterlab/imageviewer-extension"),
  import("@jupyterlab/inspector-extension"),
  import("@jupyterlab/launcher-extension"),
  import("@jupyterlab/logconsole-extension"),
  import("@jupyterlab/mainmenu-extension"),
  import("@jupyterlab/markdownviewer-extension"),
  import("@jupyterlab/markedparser-extension"),
  import("@jupyterlab/mathjax-extension"),
  import("@jupyterlab/metadataform-extension"),
  import("@jupyterlab/notebook-extension").then(withoutLsp),
  import("@jupyterlab/rendermime-extension"),
  import("@jupyterlab/running-extension"),
  import("@jupyterlab/services-extension"),
  import("@jupyterlab/settingeditor-extension"),
  import("@jupyterlab/shortcuts-extension"),
  import("@jupyterlab/statusbar-extension"),
  import("@jupyterlab/theme-dark-extension"),
  import("@jupyterlab/theme-light-extension"),
  import("@jupyterlab/toc-extension"),
  import("@jupyterlab/tooltip-extension"),
  import("@jupyterlab/translation-extension"),
  import("@jupyterlab/ui-components-extension"),
  import("@jupyterlab/video-extension"),
  import("@jupyterlab/workspaces-extension"),
];

const mimeExtensions = () => [
  import("@jupyterlab/javascript-extension"),
  import("@jupyterlab/json-extension"),
  import("@jupyterlab/pdf-extension"),
  import("jupyterlab-plotly/lib/plotly-renderer.js"),
];

/** The plugins of an extension module (ES or CommonJS, one plugin or a list). */
function plugins(module) {
  const exports = module.default ?? module;
  return Array.isArray(exports) ? exports : [exports];
}

async function main() {
  const disabledPatterns = PageConfig.Extension.disabled;
  const isDisabled = (id) => PageConfig.Extension.isDisabled(id);
  const disabled = [];
  const available = [];
  const active = (module) =>
    plugins(module).filter((plugin) => {
      const off = isDisabled(plugin.id);
      available.push({
        id: plugin.id,
        description: plugin.description,
        requires: plugin.requires ?? [],
        optional: plugin.optional ?? [],
        provides: plugin.provides ?? null,
        autoStart: plugin.autoStart,
        enabled: !off,
      });
      if (off) disabled.push(plugin.id);
      return !off;
    });

  const mime = (await Promise.all(mimeExtensions())).flatMap(active);
  const register = (await Promise.all(extensions())).flatMap(active);

  const { JupyterLab } = await import("@jupyterlab/application");
  const { IConnectionStatus, IServiceManager } = await import("@jupyterlab/services");
  const pluginRegistry = new JupyterPluginRegistry();
  pluginRegistry.registerPlugins(register);
  const connectionStatus = await pluginRegistry.resolveOptionalService(IConnectionStatus);
  const serviceManager = await pluginRegistry.resolveRequiredService(IServiceManager);
  const lab = new JupyterLab({
    pluginRegistry,
    serviceManager,
    mimeExtensions: mime,
    connectionStatus,
    disabled: { matches: disabled, patterns: disabledPatterns.map((v) => v.raw) },
    deferred: { matches: [], patterns: [] },
    availablePlugins: available,
  });
  lab.start({ bubblingKeydown: true });
  if ((PageConfig.getOption("exposeAppInBrowser") || "").toLowerCase() === "true") {
    globalThis.jupyterapp = lab;
  }
}

globalThis.addEventListener("load", () => {
  main().catch((error) => {
    console.error(error);
    document.body.setAttribute("data-nn-lab-error", String(error?.stack ?? error));
  });
});

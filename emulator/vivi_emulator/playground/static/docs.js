// The API docs page: Swagger UI, from the installed package's files, over this emulator's
// contract. The emulator itself is added as the first server, so "Try it out" stays local.
"use strict";

(async () => {
  const target = document.getElementById("swagger-ui");
  let spec;
  try {
    const response = await fetch("/openapi.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    spec = await response.json();
  } catch (error) {
    target.textContent = `The contract could not be loaded from /openapi.json: ${error.message}`;
    return;
  }
  const here = { url: location.origin, description: "This emulator (the server of this page)" };
  spec.servers = [here, ...(spec.servers || []).filter((server) => server.url !== here.url)];
  window.ui = SwaggerUIBundle({
    spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // the default would fetch a badge from an online validator
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    tryItOutEnabled: false,
  });
})();

// The VS Code client of `meshc lsp`: it starts the server over stdio for
// .mesh files. Highlighting comes from syntaxes/mesh.tmLanguage.json and
// works without the server.
'use strict';

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

function createClient() {
  const config = vscode.workspace.getConfiguration('meshc');
  const istioVersion = config.get('istioVersion');
  return new LanguageClient(
    'meshc',
    'meshc',
    { command: config.get('path') || 'meshc', args: ['lsp'], transport: TransportKind.stdio },
    {
      documentSelector: [{ scheme: 'file', language: 'mesh' }],
      initializationOptions: istioVersion ? { istioVersion } : {},
    },
  );
}

async function start() {
  client = createClient();
  try {
    await client.start();
  } catch (err) {
    vscode.window.showErrorMessage(
      `meshc: the language server did not start (${err.message}). Install it with ` +
      `\`pip install 'meshc[lsp]'\`, or set "meshc.path" to the meshc program.`);
  }
}

async function activate(context) {
  context.subscriptions.push(vscode.commands.registerCommand('meshc.restartServer', async () => {
    if (client) {
      await client.stop();
    }
    await start();
  }));
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration(async (event) => {
    if (event.affectsConfiguration('meshc.path') || event.affectsConfiguration('meshc.istioVersion')) {
      await vscode.commands.executeCommand('meshc.restartServer');
    }
  }));
  await start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };

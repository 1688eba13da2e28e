#!/usr/bin/env node
/*
 * Deploy check without an org: converts force-app from source format to Metadata API format with
 * @salesforce/source-deploy-retrieve, the library behind `sf project convert source` and
 * `sf project deploy start` (same ComponentSetBuilder, same MetadataConverter, sfdx-project.json
 * replacements applied as a deploy applies them). It fails on anything the CLI would refuse to
 * package: unknown metadata types, source files without their -meta.xml, unparsable XML.
 *
 * The Named Credential's URL comes from LINE_CONNECTOR_RELAY_URL at deploy time (sfdx-project.json
 * "replacements"). The check proves both halves: a deploy without the variable stops with an error
 * naming it, and with it the converted Named Credential carries the URL.
 *
 * Usage: node scripts/convert-source.js [output dir]   (default: a temporary directory, removed;
 *        the Metadata API tree is written to <output dir>/mdapi)
 * Prints the number of components per metadata type; exits 1 on a conversion error.
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
    console.error(`convert: source-deploy-retrieve needs Node >= 22, this is ${process.version} (make test installs one under node_modules)`);
    process.exit(2);
}

const { ComponentSetBuilder, MetadataConverter } = require('@salesforce/source-deploy-retrieve');

const root = path.resolve(__dirname, '..');
const URL_VARIABLE = 'LINE_CONNECTOR_RELAY_URL';
const CHECK_URL = 'https://relay.example.test';
const NAMED_CREDENTIAL = 'force-app/main/default/namedCredentials/LINE_Connector.namedCredential-meta.xml';

// `sf project convert source` applies replacements only when asked to; a deploy always does.
process.env.SF_APPLY_REPLACEMENTS_ON_CONVERT = 'true';

async function convert(sourcepath, output) {
    const components = await ComponentSetBuilder.build({ sourcepath, projectDir: root });
    await new MetadataConverter().convert(components, 'metadata', {
        type: 'directory',
        outputDirectory: output,
        genUniqueDir: false
    });
    return components;
}

async function checkRelayUrlReplacement(output) {
    const saved = process.env[URL_VARIABLE];
    delete process.env[URL_VARIABLE];
    try {
        await convert([path.join(root, NAMED_CREDENTIAL)], path.join(output, 'without-url'));
        throw new Error(`a deploy without ${URL_VARIABLE} would not stop`);
    } catch (error) {
        if (!String(error.message).includes(URL_VARIABLE)) throw error;
    } finally {
        if (saved !== undefined) process.env[URL_VARIABLE] = saved;
    }
}

async function main() {
    const keep = process.argv[2];
    const output = keep ? path.resolve(keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'line-mdapi-'));
    try {
        await checkRelayUrlReplacement(output);
        const url = process.env[URL_VARIABLE] || CHECK_URL;
        process.env[URL_VARIABLE] = url;
        const project = JSON.parse(fs.readFileSync(path.join(root, 'sfdx-project.json'), 'utf8'));
        const sourcepath = project.packageDirectories.map((d) => path.join(root, d.path));
        const mdapi = path.join(output, 'mdapi');
        const components = await convert(sourcepath, mdapi);
        const credential = fs.readFileSync(path.join(mdapi, 'namedCredentials', 'LINE_Connector.namedCredential'), 'utf8');
        if (!credential.includes(`<parameterValue>${url}</parameterValue>`)) {
            throw new Error(`the converted Named Credential does not carry ${URL_VARIABLE} (${url})`);
        }
        const counts = {};
        for (const component of components.getSourceComponents()) {
            counts[component.type.name] = (counts[component.type.name] || 0) + 1;
        }
        const manifest = fs.readFileSync(path.join(mdapi, 'package.xml'), 'utf8');
        const summary = Object.keys(counts)
            .sort()
            .map((type) => `${type} ${counts[type]}`)
            .join(', ');
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        if (total === 0 || !manifest.includes('<types>')) {
            throw new Error('nothing was converted');
        }
        console.error(`convert: ${total} components to Metadata API format (${summary}); relay URL from ${URL_VARIABLE}`);
    } finally {
        if (!keep) fs.rmSync(output, { recursive: true, force: true });
    }
}

main().catch((error) => {
    console.error(`convert: ${error.message}`);
    process.exit(1);
});

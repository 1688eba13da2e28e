const lwcConfig = require('@salesforce/eslint-config-lwc');
const jestPlugin = require('eslint-plugin-jest');
const globals = require('globals');

module.exports = [
    // Lightning web components: Salesforce's recommended LWC rules plus its i18n rules.
    ...lwcConfig.configs.recommended,
    ...lwcConfig.configs.i18n,
    {
        files: ['**/lwc/**/__tests__/**/*.js'],
        plugins: { jest: jestPlugin },
        languageOptions: { globals: { ...globals.node, ...globals.jest } },
        rules: { ...jestPlugin.configs.recommended.rules }
    },
    // The project's own Node tooling (configs and scripts/), CommonJS.
    {
        files: ['*.config.js', 'scripts/**/*.js'],
        languageOptions: { sourceType: 'script', globals: { ...globals.node } }
    }
];

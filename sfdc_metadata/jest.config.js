const { jestConfig } = require('@salesforce/sfdx-lwc-jest/config');

module.exports = {
    ...jestConfig,
    testPathIgnorePatterns: ['<rootDir>/node_modules/', '<rootDir>/.sfdx/', '<rootDir>/.sf/'],
    modulePathIgnorePatterns: ['<rootDir>/.localdevserver']
};

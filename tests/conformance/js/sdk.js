// Cisco's webex-js-sdk 3.x, assembled as the `webex` package's own dist/webex.js assembles it, with
// its default config, but only from the plugins a bot uses: the package's entry also loads the
// meetings, calling and contact-center plugins, which cannot load in Node (they read `window` at
// load time and import ESM paths without extensions). No SDK file is changed.
'use strict';

require('@webex/plugin-authorization');
require('@webex/internal-plugin-device');
require('@webex/internal-plugin-mercury');
require('@webex/plugin-attachment-actions');
require('@webex/plugin-logger');
require('@webex/plugin-messages');
require('@webex/plugin-memberships');
require('@webex/plugin-people');
require('@webex/plugin-rooms');
const merge = require('lodash/merge');
const WebexCore = require('@webex/webex-core').default;
const {MemoryStoreAdapter} = require('@webex/webex-core');

const Webex = WebexCore.extend({webex: true, version: require('webex/package').version});

// webex/dist/config.js, less the hydra URLs read from the environment.
const config = {
  credentials: {clientType: 'confidential'},
  device: {validateDomains: true, ephemeral: true},
  storage: {boundedAdapter: MemoryStoreAdapter, unboundedAdapter: MemoryStoreAdapter},
};

// What webex's Webex.init does.
Webex.init = (attrs = {}) => new Webex({...attrs, config: merge({sdkType: 'webex'}, config, attrs.config)});

module.exports = Webex;

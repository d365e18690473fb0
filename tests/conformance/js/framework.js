// webex-node-bot-framework, unchanged, in its websocket mode (no webhookUrl) against the emulator:
// it answers "ping ..." with "pong: ...". Its own webex-js-sdk reads the service URLs from the
// environment: U2C_SERVICE_URL (the U2C base) and HYDRA_SERVICE_URL (the REST root).
// Usage: WEBEX_TOKEN=... U2C_SERVICE_URL=... HYDRA_SERVICE_URL=... node framework.js
// Prints one JSON line per step (initialized, heard, answered) for the test to follow.
'use strict';

const Framework = require('webex-node-bot-framework');

const token = process.env.WEBEX_TOKEN;
if (!token || !process.env.U2C_SERVICE_URL || !process.env.HYDRA_SERVICE_URL) {
  console.error('usage: WEBEX_TOKEN=... U2C_SERVICE_URL=... HYDRA_SERVICE_URL=... node framework.js');
  process.exit(2);
}

const say = (step, detail = {}) => console.log(JSON.stringify({step, ...detail}));
const framework = new Framework({token});

framework.on('initialized', () => say('initialized', {bots: framework.bots.length}));
framework.hears('ping', async (bot, trigger) => {
  say('heard', {roomId: bot.room.id, text: trigger.text});
  try {
    const sent = await bot.say(`pong: ${trigger.args.slice(1).join(' ')}`);
    say('answered', {id: sent.id});
  } catch (error) {
    say('answer-failed', {error: String(error)});
  }
});

framework.start().catch((error) => {
  say('failed', {error: String(error && error.stack ? error.stack : error)});
  process.exit(1);
});

// Cisco's webex-js-sdk, unchanged, against the emulator: register a device, listen, answer each
// message a person posts with "js saw: <text>". Configured only by the emulator's service URLs.
// Usage: WEBEX_TOKEN=... node listen.js <u2c base URL> <hydra URL>
// Prints one JSON line per step (ready, listening, created, replied) for the test to follow.
'use strict';

const Webex = require('./sdk');

const [u2c, hydra] = process.argv.slice(2);
const token = process.env.WEBEX_TOKEN;
if (!token || !u2c || !hydra) {
  console.error('usage: WEBEX_TOKEN=... node listen.js <u2c base URL> <hydra URL>');
  process.exit(2);
}

const say = (step, detail = {}) => console.log(JSON.stringify({step, ...detail}));

const webex = Webex.init({
  credentials: {access_token: token},
  config: {
    logger: {level: process.env.WEBEX_LOG_LEVEL || 'error'},
    services: {discovery: {u2c, hydra}},
  },
});

async function main() {
  await new Promise((resolve) => webex.once('ready', resolve));
  const me = await webex.people.get('me');
  say('ready', {me: me.id});
  await webex.messages.listen();
  say('listening', {device: webex.internal.device.url});
  webex.messages.on('created', async (event) => {
    say('created', {id: event.data.id, personId: event.data.personId, text: event.data.text});
    if (event.data.personId === me.id) {
      return;
    }
    try {
      const reply = await webex.messages.create({roomId: event.data.roomId, text: `js saw: ${event.data.text}`});
      say('replied', {id: reply.id});
    } catch (error) {
      say('reply-failed', {error: String(error)});
    }
  });
}

main().catch((error) => {
  say('failed', {error: String(error && error.stack ? error.stack : error)});
  process.exit(1);
});

// The original's load test for k6 (https://k6.io): 100 virtual users book room 1 through the
// gateway for 60 s, as `siege -c100 -t60S` did. Start the system with pay slowed first
// (see script/overload or docs/overload.md), then:
//
//   k6 run -e TOKEN="$(script/token customer k6)" load/k6.js    # gateway on http://127.0.0.1:8088
//   k6 run -e GATEWAY=http://127.0.0.1:18088 -e TOKEN=... load/k6.js
//
// TOKEN is a customer's bearer token. From one address, 100 users exceed the gateway's
// per-client rate limit: start the stack with GATEWAY_RATE_LIMIT=0 to measure the system.
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';

export const options = {
  vus: 100,
  duration: '60s',
  thresholds: {}, // measurements, not pass/fail: the machines are shared and noisy
};

const gateway = __ENV.GATEWAY || 'http://127.0.0.1:8088';
const token = __ENV.TOKEN || '';
const booked = new Counter('bookings_accepted');
const busy = new Counter('bookings_refused_busy');
const bookedTime = new Trend('latency_booked', true);
const busyTime = new Trend('latency_refused_busy', true);

export default function () {
  const res = http.post(
    `${gateway}/conferences`,
    JSON.stringify({ status: '', payId: 0, roomNumber: 1 }),
    { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` } },
  );
  if (res.status === 201) {
    booked.add(1);
    bookedTime.add(res.timings.duration);
  } else if (res.status === 503 && res.json('error') === 'payment_busy') {
    busy.add(1);
    busyTime.add(res.timings.duration);
  }
  check(res, {
    'booked, or refused with Retry-After': (r) =>
      r.status === 201 || (r.status === 503 && r.headers['Retry-After'] !== undefined),
  });
}

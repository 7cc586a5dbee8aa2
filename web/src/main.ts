import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import { completeSignIn } from './lib/auth'
import { restoreSession } from './lib/session'
import { startLive } from './lib/live'
import { signInProblem } from './lib/ui'
import './style.css'

async function start() {
  restoreSession()
  try {
    const returnTo = await completeSignIn()
    if (returnTo) router.replace(returnTo.replace(/^#/, '') || '/')
  } catch (e) {
    signInProblem.value = e instanceof Error ? e.message : String(e)
  }
  startLive()
  createApp(App).use(router).mount('#app')
}

void start()

import { createRouter, createWebHashHistory } from 'vue-router'
import BoardView from './views/BoardView.vue'
import { focusHeadingOnNavigation } from './lib/focus'

// Hash routes (#/mine, #/manage): the API's paths (/rooms, /conferences, ...) share the origin.
export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', name: 'board', component: BoardView, meta: { title: 'Rooms' } },
    { path: '/bookings/:id', name: 'booking', component: () => import('./views/BookingView.vue'), props: true, meta: { title: 'Booking' } },
    { path: '/mine', name: 'mine', component: () => import('./views/MyBookingsView.vue'), meta: { title: 'My bookings' } },
    { path: '/manage', name: 'manage', component: () => import('./views/ManageView.vue'), meta: { title: 'Manage' } },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

router.afterEach((to) => {
  document.title = `${String(to.meta.title ?? 'HiFive')} — HiFive`
})

focusHeadingOnNavigation(router)

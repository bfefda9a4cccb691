// The payment step of the hosted checkout page: mounts Stripe's Payment
// Element (Stripe.js is loaded from Stripe's own host just before this
// file) for the order's PaymentIntent and confirms it; Stripe then sends
// the buyer to the return URL, whose page shows the order's state as the
// webhooks move it. Nothing here decides whether the order is paid.
(function () {
  'use strict';
  var form = document.getElementById('payment-form');
  if (!form) return;
  var button = document.getElementById('pay');
  var message = document.getElementById('payment-message');
  if (typeof window.Stripe !== 'function') {
    message.textContent = 'The card form could not be loaded from Stripe. Check your connection and reload this page.';
    return;
  }
  var stripe = window.Stripe(form.dataset.key);
  var elements = stripe.elements({ clientSecret: form.dataset.secret });
  elements.create('payment').mount('#payment-element');
  button.disabled = false;
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    button.disabled = true;
    message.textContent = 'Confirming…';
    stripe.confirmPayment({ elements: elements, confirmParams: { return_url: form.dataset.return } }).then(function (res) {
      // Only reached when Stripe did not redirect: the card was declined
      // or the details were incomplete. The order is unchanged.
      if (res && res.error) message.textContent = res.error.message || 'The payment did not go through.';
      button.disabled = false;
    });
  });
})();

import './style.css';

const app = document.getElementById('app')!;
app.dataset.ready = 'true';
